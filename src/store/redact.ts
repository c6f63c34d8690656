import { REDACTED, redact, registerSecret } from '../core/index.js';

/**
 * A database URL fit for messages: the password (in the userinfo or a `password` query
 * parameter) replaced by `[REDACTED]`. The password is also registered with the process-wide
 * redactor, so driver errors that echo it are scrubbed too.
 *
 * @example
 * redactUrl('postgres://app:s3cret@db:5432/ship') // 'postgres://app:[REDACTED]@db:5432/ship'
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not parseable as a URL: fall back to the credential patterns of the core redactor.
    return redact(url);
  }
  if (parsed.password !== '') {
    registerSecret(decodeURIComponent(parsed.password));
    parsed.password = REDACTED;
  }
  const queryPassword = parsed.searchParams.get('password');
  if (queryPassword !== null) {
    registerSecret(queryPassword);
    parsed.searchParams.set('password', REDACTED);
  }
  // URL encodes the brackets of the marker; show it as the rest of Shipshape does.
  return parsed.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED);
}
