import { readFileSync } from 'node:fs';

/**
 * The package version (`--version`, the `User-Agent` of outgoing requests). Read from package.json, one
 * directory above src/ and dist/ alike.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** `shipshape/<version>`, sent as `User-Agent` so receivers can tell Shipshape's requests apart. */
export const USER_AGENT = `shipshape/${VERSION}`;
