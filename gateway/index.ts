// Public face of gateway/. Other folders import only this file.
export {};
