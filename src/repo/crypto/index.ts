export * from './blob.js';
export * from './chunk-id.js';
export * from './errors.js';
export * from './key-file.js';
export * from './keys.js';
