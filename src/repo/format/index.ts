export * from './config.js';
export * from './ids.js';
export * from './index-file.js';
export * from './master-index.js';
export * from './pack.js';
export * from './snapshot.js';
