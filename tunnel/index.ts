// Public face of tunnel/. Other folders import only this file.
export {};
