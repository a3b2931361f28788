// Public face of broker/. Other folders import only this file.
export {};
