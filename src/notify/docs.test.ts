import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WebhookErrorCode, WebhookHeader, WebhookVerifyFailure } from './index.js';

describe('docs/notifications.md', () => {
  const doc = readFileSync(new URL('../../docs/notifications.md', import.meta.url), 'utf8');

  it.each(Object.values(WebhookErrorCode))('documents delivery error %s in a table row', (code) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${code}\` *\\|`, 'm'));
  });

  it.each(Object.values(WebhookHeader))('documents the %s header', (name) => {
    expect(doc).toMatch(new RegExp(`^\\| \`${name}\` *\\|`, 'm'));
  });

  it.each(Object.values(WebhookVerifyFailure))('names verification failure %s', (reason) => {
    expect(doc).toContain(`\`${reason}\``);
  });
});
