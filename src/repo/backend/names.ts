import { FILE_TYPES, FileType, type ByteRange } from './backend.js';
import { badName } from './errors.js';

/** Object names: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 200 chars. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** Data (pack) names also start with two lowercase hex digits: the fan-out folder. */
const DATA_NAME = /^[0-9a-f]{2}/;

/**
 * Refuses names a backend must not map to a path or key: separators, `..`, a leading dot (temp
 * files use one), empty or overlong names; for `data`, names not starting with two lowercase hex
 * digits; for `config`, any name but `config`. Also refuses an unknown file type.
 *
 * @throws ShipError `SHIP_REPO_BAD_NAME` (exit 2).
 */
export function checkObjectName(type: FileType, name: string): void {
  checkFileType(type, name);
  if (type === FileType.config) {
    if (name !== 'config') throw badName(type, name, 'the name "config" (there is one config)');
    return;
  }
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw badName(type, name, '1-200 characters of A-Z a-z 0-9 . _ -, not starting with . _ or -');
  }
  if (type === FileType.data && !DATA_NAME.test(name)) {
    throw badName(type, name, 'a pack name starting with two lowercase hex digits');
  }
}

/**
 * Refuses a value that is not one of the file types (types can arrive unchecked from callers).
 *
 * @throws ShipError `SHIP_REPO_BAD_NAME` (exit 2).
 */
export function checkFileType(type: FileType, name = ''): void {
  if (!FILE_TYPES.includes(type)) {
    throw badName(type, name, `a file type, one of ${FILE_TYPES.join(', ')}`);
  }
}

/**
 * Checks a byte range's shape (non-negative safe integers); a programmer error otherwise.
 * Whether it fits the object is the backend's to check (`SHIP_REPO_CORRUPT`).
 */
export function checkRange(range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`range offset must be a non-negative integer, got ${String(offset)}`);
  }
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new RangeError(`range length must be a non-negative integer, got ${String(length)}`);
  }
}
