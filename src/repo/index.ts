export * from './chunker/index.js';
export * from './backend/index.js';
export * from './crypto/index.js';
export * from './compress/index.js';
export * from './format/index.js';
export * from './repository.js';
