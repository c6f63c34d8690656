import { redact, redactDeep } from '../core/index.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Redacts the free text of an append input — the subject, a gate result's summary, details and
 * artifact names, an event's details — BEFORE it is validated. Redacting first means the
 * validated value is exactly what is stored (a `[REDACTED]` that lengthens a string is checked
 * against the limits like anything else), and a validation message can never echo a secret.
 * Ids, enums, timestamps and digests are left alone: a registered secret that happens to occur
 * inside a digest must not corrupt it. Works on unknown input: whatever is not where the schema
 * expects it is passed through for the schema to reject.
 */
export function redactInput(input: unknown): unknown {
  if (!isObject(input)) return input;
  const out: Record<string, unknown> = { ...input };
  if (typeof out.subject === 'string') out.subject = redact(out.subject);
  if (isObject(out.body)) {
    const body: Record<string, unknown> = { ...out.body };
    if (typeof body.summary === 'string') body.summary = redact(body.summary);
    if (body.details !== undefined) body.details = redactDeep(body.details);
    if (Array.isArray(body.artifacts)) {
      body.artifacts = body.artifacts.map((artifact: unknown) =>
        isObject(artifact) && typeof artifact.name === 'string'
          ? { ...artifact, name: redact(artifact.name) }
          : artifact,
      );
    }
    out.body = body;
  }
  return out;
}
