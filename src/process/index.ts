export { ProcessErrorCode, type ProcessErrorCodeValue } from './errors.js';
export type { HealthCheck } from './health.js';
export { allocatePorts } from './ports.js';
export { startProcess, type ProcessSpec, type RunningProcess } from './runner.js';
export type { ProcessExit, StopOutcome } from './group.js';
