import { REDACTED } from '../core/index.js';
import { scanSecretRefs } from './secrets.js';

/** A password written literally into a connection string. */
export interface LiteralPassword {
  /** The connection string with the password replaced by `[REDACTED]`, safe to print. */
  masked: string;
  /** The same string with the password replaced by an `${env:…}` reference. */
  suggestion: string;
  /** The variable name used in `suggestion`. */
  variable: string;
}

// A private-use character stands for a cut-out reference; connection strings have no use for it.
const HOLE = '\uE000';
const ONLY_HOLES = /^(?:\uE000\d+\uE000)+$/;
const URL_HEAD = /^([a-z][a-z0-9+.-]*:\/\/)/i;
const QUERY_PASSWORD = /([?&](?:password|pass|pwd|sslpassword)=)([^&#]*)/i;
const KV_PASSWORD =
  /(^|[\s;])((?:password|passwd|pwd|pass)\s*=\s*)('(?:[^'\\]|\\.)*'|"[^"]*"|[^\s;]*)/i;

/**
 * Finds a literal password in a connection URL (`postgres://u:pw@h/db`, `redis://:pw@h`,
 * `?password=pw`) or a key/value DSN (`host=h password=pw`, `Server=h;Pwd=pw`). A password
 * made only of `${env:…}`/`${file:…}` references is fine. Returns how to write it instead.
 *
 * @param variableBase prefix for the suggested variable, e.g. `ORDERS_PRODUCTION`.
 */
export function findLiteralPassword(
  connection: string,
  variableBase: string,
): LiteralPassword | undefined {
  // Cut the valid references out first so that their text (`${file:a@b}`) cannot confuse the
  // URL parsing, and so that a password made of references is recognised as one.
  const { refs } = scanSecretRefs(connection);
  let holed = '';
  let at = 0;
  refs.forEach((ref, index) => {
    holed += `${connection.slice(at, ref.start)}${HOLE}${index}${HOLE}`;
    at = ref.end;
  });
  holed += connection.slice(at);
  const unhole = (text: string) =>
    text.replace(/\uE000(\d+)\uE000/g, (_m, index: string) => {
      const ref = refs[Number(index)];
      return ref ? connection.slice(ref.start, ref.end) : '';
    });
  const variable = `${variableBase}_PASSWORD`;
  const reference = `\${env:${variable}}`;
  const isLiteral = (password: string) => password !== '' && !ONLY_HOLES.test(password);
  const found = (before: string, after: string) => ({
    masked: unhole(`${before}${REDACTED}${after}`),
    suggestion: unhole(`${before}${reference}${after}`),
    variable,
  });

  const head = URL_HEAD.exec(holed)?.[1];
  if (head !== undefined) {
    const rest = holed.slice(head.length);
    const authorityEnd = rest.search(/[/?#]/);
    const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
    const atSign = authority.lastIndexOf('@');
    const colon = atSign === -1 ? -1 : authority.indexOf(':');
    if (colon !== -1 && colon < atSign && isLiteral(authority.slice(colon + 1, atSign))) {
      return found(head + rest.slice(0, colon + 1), rest.slice(atSign));
    }
    const query = QUERY_PASSWORD.exec(rest);
    if (query?.[1] !== undefined && isLiteral(decodeSafe(query[2] ?? ''))) {
      const start = head.length + query.index + query[1].length;
      return found(holed.slice(0, start), holed.slice(start + (query[2] ?? '').length));
    }
    return undefined;
  }

  const kv = KV_PASSWORD.exec(holed);
  if (kv?.[2] !== undefined) {
    const raw = kv[3] ?? '';
    const unquoted = /^['"]/.test(raw) ? raw.slice(1, -1) : raw;
    if (isLiteral(unquoted)) {
      const start = kv.index + (kv[1] ?? '').length + kv[2].length;
      return found(holed.slice(0, start), holed.slice(start + raw.length));
    }
  }
  return undefined;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `orders` + `production` → `ORDERS_PRODUCTION`: a variable-name prefix for suggestions. */
export function variableBase(...parts: string[]): string {
  return parts
    .map((part) => part.toUpperCase().replace(/[^A-Z0-9]+/g, '_'))
    .join('_')
    .replace(/^_+|_+$/g, '');
}
