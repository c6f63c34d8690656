export { detectProject, kindOfImage, DETECTABLE_KINDS } from './detect.js';
export type { DetectableKind, DetectedDatastore, Detection } from './detect.js';
export { renderStarterSpec, toServiceName } from './render.js';
export type { StarterOptions } from './render.js';
