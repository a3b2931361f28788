// Public face of ipam/. Other folders import only this file.
export {};
