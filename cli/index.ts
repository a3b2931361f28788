// Face of cli/: the composition root. No other folder imports the CLI (bin/strait runs dist/cli/main.js), so
// this face exports nothing; keep it that way rather than let a room depend on the command layer.
export {};
