export { openStore, storeLocation, describeLocation, STORE_DIR, STORE_FILE } from './open.js';
export { StoreErrorCode, type StoreErrorCodeValue } from './errors.js';
export { migrations, type Migration } from './migrations/index.js';
export type * from './types.js';
