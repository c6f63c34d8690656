export { RemoteClient, remoteTarget, type RemoteTarget, type RequestOptions } from './client.js';
export { RemoteLedger } from './ledger.js';
export { RemoteTokenManager } from './tokens.js';
