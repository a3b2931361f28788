// Public face of scenarios/. Other folders import only this file.
export {};
