export * from './format.js';
export * from './blob-sink.js';
export * from './blob-source.js';
export * from './backup.js';
export * from './restore.js';
