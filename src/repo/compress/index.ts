export * from './codec.js';
export * from './pool.js';
export * from './zstd.js';
