import { describe, expect, it } from 'vitest';
import { redact } from '../core/index.js';
import { redactUrl } from './redact.js';

describe('redactUrl', () => {
  it('replaces the userinfo password and keeps everything else', () => {
    expect(redactUrl('postgres://app:s3cret-pw@db:5432/ship?sslmode=require')).toBe(
      'postgres://app:[REDACTED]@db:5432/ship?sslmode=require',
    );
  });

  it('replaces a password query parameter', () => {
    expect(redactUrl('postgres://app@db/ship?password=query-secret')).toBe(
      'postgres://app@db/ship?password=[REDACTED]',
    );
  });

  it('leaves URLs without a password unchanged', () => {
    for (const url of ['postgres://app@db:5432/ship', 'postgresql:///ship?host=/run/postgresql']) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('registers the decoded password so that driver errors quoting it are scrubbed', () => {
    redactUrl('postgres://app:p%40ss-echoed-1@db/ship');
    expect(redact('FATAL: bad password "p@ss-echoed-1"')).not.toContain('p@ss-echoed-1');
  });

  it('falls back to pattern redaction for text that is not a URL', () => {
    expect(redactUrl('host=db password=kv-secret')).not.toContain('kv-secret');
  });
});
