import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containing, matching, objectWith, thrown } from '../../test/ledger/matchers.js';
import { ExitCode } from '../core/index.js';
import {
  generateSigningKeyPair,
  keyIdOf,
  loadPrivateKey,
  loadPrivateKeyFile,
  loadPublicKey,
  loadPublicKeyFile,
} from './keys.js';

const badKey = (message: RegExp) =>
  objectWith({
    code: 'SHIP_LEDGER_BAD_KEY',
    exitCode: ExitCode.usage,
    message: matching(message),
  });

describe('ledger signing keys', () => {
  it('generates an Ed25519 pair that loads back, with a stable key id', () => {
    const pair = generateSigningKeyPair();
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const privateKey = loadPrivateKey(pair.privateKeyPem);
    const publicKey = loadPublicKey(pair.publicKeyPem);
    expect(privateKey.asymmetricKeyType).toBe('ed25519');
    expect(keyIdOf(privateKey)).toBe(pair.keyId);
    expect(keyIdOf(publicKey)).toBe(pair.keyId);
    // The id is sha256 over the raw 32-byte key: the last 32 bytes of the SPKI DER.
    const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    expect(pair.keyId).toBe(createHash('sha256').update(raw).digest('hex').slice(0, 16));
    expect(generateSigningKeyPair().keyId).not.toBe(pair.keyId);
  });

  it('refuses keys of another type', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaPrivate = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' });
    const rsaPublic = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    expect(thrown(() => loadPrivateKey(rsaPrivate, 'keys/ledger.key'))).toMatchObject(
      badKey(
        /^keys\/ledger\.key is a key of type rsa; ledger checkpoints are signed with Ed25519\.$/,
      ),
    );
    expect(thrown(() => loadPublicKey(rsaPublic))).toMatchObject(badKey(/is a key of type rsa/));
    const x25519 = generateKeyPairSync('x25519');
    expect(
      thrown(() => loadPublicKey(x25519.publicKey.export({ type: 'spki', format: 'pem' }))),
    ).toMatchObject(badKey(/is a key of type x25519/));
  });

  it('refuses garbage and says what it expected', () => {
    expect(thrown(() => loadPrivateKey('not a key', 'k.pem'))).toMatchObject(
      badKey(/^k\.pem is not a readable unencrypted private key in PEM format/),
    );
    expect(
      thrown(() => loadPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')),
    ).toMatchObject(badKey(/is not a readable public key in PEM format/));
  });

  it('refuses a private key where the public key belongs', () => {
    const pair = generateSigningKeyPair();
    expect(thrown(() => loadPublicKey(pair.privateKeyPem, 'ledger.pub.pem'))).toMatchObject(
      badKey(/^ledger\.pub\.pem holds a private key where a public key was expected\.$/),
    );
  });

  it('reads key files and names a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipshape-keys-'));
    const pair = generateSigningKeyPair();
    writeFileSync(join(dir, 'ledger.key'), pair.privateKeyPem);
    writeFileSync(join(dir, 'ledger.pub.pem'), pair.publicKeyPem);
    expect(keyIdOf(loadPrivateKeyFile(join(dir, 'ledger.key')))).toBe(pair.keyId);
    expect(keyIdOf(loadPublicKeyFile(join(dir, 'ledger.pub.pem')))).toBe(pair.keyId);
    expect(thrown(() => loadPublicKeyFile(join(dir, 'missing.pem')))).toMatchObject(
      objectWith({
        code: 'SHIP_LEDGER_KEY_UNREADABLE',
        message: containing(join(dir, 'missing.pem')),
      }),
    );
  });
});
