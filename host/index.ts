export { run, sh, hasCommand, withNetns, execWith, ExecError, type ExecOptions, type ExecResult } from './exec.js';
export { newRunId, netnsName, ifName, runDir, RUN_ID_PATTERN } from './run-id.js';
export { ensureNetns, deleteNetns, listNetns, pidsInNetns, openNetnsRef, pidsInNetnsRef, isRoot } from './netns.js';
export { startDaemon, stopPid, stopPidFile, isAlive, type DaemonHandle } from './daemon.js';
export { createLogger, type Logger } from './logger.js';
export { LatestFileWriter } from './latest-file-writer.js';
export { createSerial } from './serial.js';
export { sleep, waitFor, falseOnTimeout, WaitTimeoutError } from './wait-for.js';
export { createCoalescingRun } from './coalescing-run.js';
