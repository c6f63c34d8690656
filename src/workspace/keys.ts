import { createPublicKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateSigningKeyPair, keyIdOf, loadPrivateKey } from '../ledger/index.js';

/** Where `init` and `demo` put key material, relative to the workspace. */
export const KEY_PATHS = {
  /** Ed25519 private key that signs ledger checkpoints. Never committed. */
  ledgerPrivate: '.shipshape/keys/ledger.key',
  /** Its public key: commit it, verifiers need it. */
  ledgerPublic: 'ledger.pub.pem',
  /** Random password of the local backup repository. Never committed. */
  repository: '.shipshape/keys/repository.key',
} as const;

export interface WorkspaceKeys {
  ledgerPrivateKey: string;
  ledgerPublicKey: string;
  keyId: string;
  repositoryKey: string;
  /** Key files this call created; existing keys are never replaced. */
  created: string[];
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeSecretFile(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // 'wx': never overwrite a key another process created in the meantime.
  await writeFile(path, content, { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600);
}

/**
 * Makes sure the workspace has its key material, creating what is missing and never replacing
 * what exists: a new ledger key could not verify the checkpoints the old one signed, and a new
 * repository password would lock out existing backups. Creates the ledger's Ed25519 key pair
 * (private key under `.shipshape/keys/`, mode 0600; public key beside the spec, derived from the
 * private key when only that exists) and a random repository password.
 */
export async function ensureWorkspaceKeys(dir: string): Promise<WorkspaceKeys> {
  const ledgerPrivateKey = join(dir, KEY_PATHS.ledgerPrivate);
  const ledgerPublicKey = join(dir, KEY_PATHS.ledgerPublic);
  const repositoryKey = join(dir, KEY_PATHS.repository);
  const created: string[] = [];

  let privatePem = await readIfExists(ledgerPrivateKey);
  if (privatePem === undefined) {
    privatePem = generateSigningKeyPair().privateKeyPem;
    await writeSecretFile(ledgerPrivateKey, privatePem);
    created.push(ledgerPrivateKey);
  }
  const privateKey = loadPrivateKey(privatePem, ledgerPrivateKey);
  const publicPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  if ((await readIfExists(ledgerPublicKey)) !== publicPem) {
    await writeFile(ledgerPublicKey, publicPem, { mode: 0o644 });
    created.push(ledgerPublicKey);
  }
  if ((await readIfExists(repositoryKey)) === undefined) {
    await writeSecretFile(repositoryKey, `${randomBytes(32).toString('base64url')}\n`);
    created.push(repositoryKey);
  }
  return { ledgerPrivateKey, ledgerPublicKey, keyId: keyIdOf(privateKey), repositoryKey, created };
}
