export * from './errors.js';
export * from './exit-codes.js';
export * from './redact.js';
export * from './duration.js';
export * from './size.js';
export * from './suggest.js';
export * from './version.js';
export * from './failpoint.js';
