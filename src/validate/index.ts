export { summariseSpec, specCheckEvidence, type SpecCheckSummary } from './spec-check.js';
