import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ShipError } from '../core/index.js';
import { generateSigningKeyPair } from '../ledger/index.js';

/** Where `init` and `demo` put key material, relative to the workspace. */
export const KEY_PATHS = {
  /** Ed25519 private key that signs ledger checkpoints. Never committed. */
  ledgerPrivate: '.shipshape/keys/ledger.key',
  /** Its public key: commit it, verifiers need it. */
  ledgerPublic: 'ledger.pub.pem',
  /** Random password of the local backup repository. Never committed. */
  repository: '.shipshape/keys/repository.key',
} as const;

export interface WrittenKeys {
  ledgerPrivateKey: string;
  ledgerPublicKey: string;
  keyId: string;
  repositoryKey: string;
}

async function writeSecretFile(path: string, content: string, force: boolean): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, content, { mode: 0o600, flag: force ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw ShipError.usage(
        'SHIP_INIT_KEY_EXISTS',
        `${path} already exists; refusing to replace a key`,
        {
          hint: 'a new ledger key cannot verify checkpoints signed by the old one; keep it, or pass --force to replace it knowingly',
        },
      );
    }
    throw error;
  }
  await chmod(path, 0o600);
}

/**
 * Generates the workspace's key material: the ledger's Ed25519 key pair (private key under
 * `.shipshape/keys/`, mode 0600; public key beside the spec) and a random repository password.
 */
export async function writeWorkspaceKeys(dir: string, force = false): Promise<WrittenKeys> {
  const pair = generateSigningKeyPair();
  const ledgerPrivateKey = join(dir, KEY_PATHS.ledgerPrivate);
  const ledgerPublicKey = join(dir, KEY_PATHS.ledgerPublic);
  const repositoryKey = join(dir, KEY_PATHS.repository);
  await writeSecretFile(ledgerPrivateKey, pair.privateKeyPem, force);
  await writeFile(ledgerPublicKey, pair.publicKeyPem, { mode: 0o644 });
  await writeSecretFile(repositoryKey, `${randomBytes(32).toString('base64url')}\n`, force);
  return { ledgerPrivateKey, ledgerPublicKey, keyId: pair.keyId, repositoryKey };
}
