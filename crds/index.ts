// Public face of crds/. Other folders import only this file.
export {};
