// Public face of member-agent/. Other folders import only this file.
export {};
