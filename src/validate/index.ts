export {
  recordSpecCheck,
  specCheckEvidence,
  summariseSpec,
  type SpecCheckSummary,
} from './spec-check.js';
