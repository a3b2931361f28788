export { buildProgram } from './program.js';
export { reportError } from './report-error.js';
