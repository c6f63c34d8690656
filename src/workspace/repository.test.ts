import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { redact } from '../core/index.js';
import { FileType, Repository, isAppendOnlyBackend } from '../repo/index.js';
import { parseSpec, type Spec } from '../spec/index.js';
import { openSpecRepository, specRepositoryTarget } from './repository.js';

const SPEC = `version: 1
service:
  name: shop
repositories:
  local:
    url: ./backups/local
    key: \${env:LOCAL_KEY}
    append_only: true
    pack_size: 1MiB
  offsite:
    url: s3://vault/shop
    key: \${env:OFFSITE_KEY}
    s3:
      endpoint: http://127.0.0.1:9
      region: eu-west-1
      access_key_id: \${env:OFFSITE_ID}
      secret_access_key: \${env:OFFSITE_SECRET}
      object_lock: true
`;

describe('spec repositories', () => {
  let dir: string;
  let spec: Spec;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-spec-repo-'));
    spec = parseSpec(SPEC, join(dir, 'shipshape.yaml')).spec;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens a local one relative to the spec, append-only as configured, with its key reference', async () => {
    const opened = await openSpecRepository(spec, 'local', {
      baseDir: dir,
      env: { LOCAL_KEY: 'local repository key' },
    });
    expect(opened).toMatchObject({
      name: 'local',
      location: join(dir, 'backups/local'),
      password: 'local repository key',
      appendOnly: true,
      packTargetBytes: 1024 * 1024,
    });
    expect(isAppendOnlyBackend(opened.backend)).toBe(true);
    const repo = await Repository.init(opened.backend, opened.password, {
      kdf: { N: 1024, r: 8, p: 1 },
    });
    await repo.close();
    const reopened = await Repository.open(opened.backend, opened.password, {
      appendOnly: opened.appendOnly,
    });
    expect(() => {
      reopened.assertCanDelete('prune');
    }).toThrow(/refusing prune/);
    await expect(opened.backend.remove(FileType.keys, reopened.keyId)).rejects.toMatchObject({
      code: 'SHIP_REPO_APPEND_ONLY',
    });
    await reopened.close();
    await opened.backend.close();
  });

  it('resolves S3 options and credential references, registering them for redaction', () => {
    const target = specRepositoryTarget(spec, 'offsite', {
      baseDir: dir,
      env: { OFFSITE_ID: 'AKIASPECREPOTEST1', OFFSITE_SECRET: 'spec-repo-secret-value-1' },
    });
    expect(target.location).toBe('s3://vault/shop');
    expect(target.appendOnly).toBe(false);
    expect(target.backendOptions).toEqual({
      baseDir: dir,
      appendOnly: false,
      s3: {
        endpoint: 'http://127.0.0.1:9',
        region: 'eu-west-1',
        credentials: {
          accessKeyId: 'AKIASPECREPOTEST1',
          secretAccessKey: 'spec-repo-secret-value-1',
        },
        objectLock: true,
      },
    });
    expect(redact('secret spec-repo-secret-value-1 here')).not.toContain(
      'spec-repo-secret-value-1',
    );
    // The key reference is resolved only when asked for: unset, it fails naming the field.
    expect(() => target.password()).toThrow(/OFFSITE_KEY.*repositories\.offsite\.key/);
  });

  it('refuses an unknown name with a suggestion', () => {
    expect(() => specRepositoryTarget(spec, 'ofsite', { baseDir: dir })).toThrow(
      expect.objectContaining({
        code: 'SHIP_SPEC_UNKNOWN_REFERENCE',
        hint: 'did you mean offsite?',
      }),
    );
  });
});
