/**
 * Redaction of secrets from everything Shipshape writes: CLI output, logs, evidence, reports and
 * error messages (including text echoed by child tools, e.g. a DSN inside a pg_dump error).
 *
 * Two layers: exact values registered when a secret reference is resolved (and their URL-encoded
 * forms), and patterns that catch credentials Shipshape never resolved itself (a password in a
 * URL, `password=` in a key/value DSN, bearer tokens, private keys in PEM).
 */

export const REDACTED = '[REDACTED]';

/** Secrets shorter than this are not matched as free text: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

interface Pattern {
  regex: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

const patterns: readonly Pattern[] = [
  {
    // PEM private keys (any algorithm), possibly spanning lines.
    regex: /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g,
    replace: () => REDACTED,
  },
  {
    // scheme://user:password@host — keep scheme, user and host so messages stay useful.
    regex: /([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s@/]+)(@)/gi,
    replace: (m, head, pw, at) => (SAFE_VALUE.test(pw) ? m : `${head}${REDACTED}${at}`),
  },
  {
    // password=… / token: … in key/value DSNs, env dumps and tool output.
    regex:
      /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|secret[_-]?access[_-]?key)(\s*[=:]\s*)('[^']*'|"[^"]*"|\$\{(?:env|file):[^}]*\}|[^\s'",;&]+)/gi,
    replace: (m, key, sep, value) => (SAFE_VALUE.test(value) ? m : `${key}${sep}${REDACTED}`),
  },
  {
    // Shipshape API tokens `ssp_<id>_<secret>` (src/auth): keep the public id, drop the secret.
    regex: /(?<![A-Za-z0-9])ssp_([0-9a-f]{12})_[A-Za-z0-9_-]{16,}/g,
    replace: (_m, id) => `ssp_${id}_${REDACTED}`,
  },
  {
    regex: /\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/g,
    replace: (_m, scheme, sep) => `${scheme}${sep}${REDACTED}`,
  },
];

/** A secret reference (`${env:NAME}`, `${file:path}`) or an already redacted value: safe to show. */
const SAFE_VALUE = /^(?:['"]?)(?:\$\{(?:env|file):[^}]*\}|\[REDACTED\])(?:['"]?)$/;

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Holds known secret values and redacts them (and credential-shaped text) from strings and
 * structures. Use the process-wide instance through `registerSecret`, `redact`, `redactDeep`.
 */
export class Redactor {
  readonly #secrets = new Set<string>();
  #matcher: RegExp | undefined;

  /** Remembers a secret value so that it never appears in output. Short values are ignored. */
  add(value: string): void {
    const forms = [value, value.trim(), encodeURIComponent(value)];
    for (const form of forms) {
      if (form.length >= MIN_SECRET_LENGTH && !this.#secrets.has(form)) {
        this.#secrets.add(form);
        this.#matcher = undefined;
      }
    }
  }

  get size(): number {
    return this.#secrets.size;
  }

  /** Returns `text` with every registered secret and credential pattern replaced. */
  redact(text: string): string {
    let out = text;
    if (this.#secrets.size > 0) {
      // Longest first so that a secret containing another is replaced whole.
      this.#matcher ??= new RegExp(
        [...this.#secrets]
          .sort((a, b) => b.length - a.length)
          .map(escapeRegex)
          .join('|'),
        'g',
      );
      out = out.replace(this.#matcher, REDACTED);
    }
    for (const { regex, replace } of patterns) {
      out = out.replace(regex, replace as (substring: string, ...args: unknown[]) => string);
    }
    return out;
  }

  /** Deep copy of `value` with every string (keys included) redacted. */
  redactDeep<T>(value: T): T {
    return this.#deep(value, new WeakSet()) as T;
  }

  #deep(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value === null || typeof value !== 'object') return value;
    if (value instanceof Date) return value;
    // `seen` holds the objects on the path from the root: a shared object (the same snapshot in
    // a plan and in a result) is copied each time, only a true cycle is cut.
    if (seen.has(value)) return '[Circular]';
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((item) => this.#deep(item, seen));
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        out[this.redact(key)] = this.#deep(item, seen);
      }
      return out;
    } finally {
      seen.delete(value);
    }
  }
}

/** The process-wide redactor every output path goes through. */
export const globalRedactor = new Redactor();

/** Registers a resolved secret with the process-wide redactor. */
export function registerSecret(value: string): void {
  globalRedactor.add(value);
}

/** Redacts a string with the process-wide redactor. */
export function redact(text: string): string {
  return globalRedactor.redact(text);
}

/** Redacts every string inside a structure with the process-wide redactor. */
export function redactDeep<T>(value: T): T {
  return globalRedactor.redactDeep(value);
}
