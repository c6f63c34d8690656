/**
 * Shipshape's programmatic API: what other tools may import from the `shipshape` package.
 * Everything else is internal and may change without notice.
 */
export { ExitCode, ShipError, VERSION, type Problem } from './core/index.js';
export { loadSpec, parseSpec, specJsonSchema, type LoadedSpec, type Spec } from './spec/index.js';
export {
  verifyExportFile,
  verifyLedger,
  type LedgerRecord,
  type VerifyReport,
} from './ledger/index.js';
export { signWebhook, verifyWebhookSignature } from './notify/index.js';
