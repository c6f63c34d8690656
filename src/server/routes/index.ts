import type { AnyRoute } from '../route.js';
import { whoami } from './identity.js';
import {
  appendRecord,
  countRecords,
  exportLedger,
  getRecord,
  listRecords,
  verifyLedger,
} from './ledger.js';
import { healthz, metrics, openapi, readyz } from './system.js';
import { listTokens, mintToken, revokeToken } from './tokens.js';

/**
 * Every route of the API, each declared once: method, path, access, schemas, handler. The app
 * registers exactly these and /openapi.json documents exactly these (a test checks both).
 */
export const ROUTES: readonly AnyRoute[] = [
  healthz,
  readyz,
  metrics,
  openapi,
  whoami,
  listRecords,
  getRecord,
  countRecords,
  appendRecord,
  verifyLedger,
  exportLedger,
  listTokens,
  mintToken,
  revokeToken,
];
