import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { LedgerCheckpoint } from './evidence.js';
import { keyIdOf } from './keys.js';

/** Domain-separation tag of the signed bytes; see RECORD_HASH_DOMAIN for why. */
export const CHECKPOINT_SIGNATURE_DOMAIN = 'shipshape-ledger-checkpoint/v1\n';

/** The exact bytes an Ed25519 checkpoint signature covers. */
export function checkpointSignedBytes(
  checkpoint: Pick<LedgerCheckpoint, 'seq' | 'headHash' | 'signedAt' | 'keyId'>,
): Buffer {
  const covered = {
    seq: checkpoint.seq,
    headHash: checkpoint.headHash,
    signedAt: checkpoint.signedAt,
    keyId: checkpoint.keyId,
  };
  return Buffer.from(CHECKPOINT_SIGNATURE_DOMAIN + canonicalJson(covered), 'utf8');
}

/** A signing key with its id computed once. */
export interface CheckpointSigner {
  readonly privateKey: KeyObject;
  readonly keyId: string;
}

/** Prepares a private key for signing checkpoints. */
export function createCheckpointSigner(privateKey: KeyObject): CheckpointSigner {
  return { privateKey, keyId: keyIdOf(privateKey) };
}

/** Signs "the record at `seq` has hash `headHash`" at `signedAt`. */
export function signCheckpoint(
  signer: CheckpointSigner,
  head: { seq: number; headHash: string; signedAt: string },
): LedgerCheckpoint {
  const unsigned = { ...head, keyId: signer.keyId };
  const signature = sign(null, checkpointSignedBytes(unsigned), signer.privateKey);
  return { ...unsigned, signature: signature.toString('base64') };
}

export const SIGNATURE_STATUS = ['valid', 'bad-signature', 'unknown-key'] as const;
export type SignatureStatus = (typeof SIGNATURE_STATUS)[number];

/** Public keys by key id, for checking checkpoints signed by any of them. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

/** Builds the key-id lookup for one or more trusted public keys. */
export function trustedKeys(keys: readonly KeyObject[]): TrustedKeys {
  return new Map(keys.map((key) => [keyIdOf(key), key]));
}

/** Checks a checkpoint's signature against the trusted key its key id names. */
export function checkSignature(checkpoint: LedgerCheckpoint, keys: TrustedKeys): SignatureStatus {
  const key = keys.get(checkpoint.keyId);
  if (!key) return 'unknown-key';
  const signature = Buffer.from(checkpoint.signature, 'base64');
  // Ed25519 signatures are always 64 bytes; node would throw on some malformed lengths.
  if (signature.length !== 64) return 'bad-signature';
  return verify(null, checkpointSignedBytes(checkpoint), key, signature)
    ? 'valid'
    : 'bad-signature';
}
