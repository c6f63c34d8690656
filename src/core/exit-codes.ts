/**
 * Process exit codes. Documented in docs/exit-codes.md; every feature that adds a failure
 * mode a user must tell apart in a script adds its code here and there (a test keeps the two
 * in step).
 */
export const ExitCode = {
  /** Success. */
  ok: 0,
  /** A gate ran and failed: findings over threshold, a drill missed its RTO, ledger tampered. */
  gateFailed: 1,
  /** Usage or spec error: a bad flag, a broken shipshape.yaml, an unset secret reference. */
  usage: 2,
  /** Runtime error: a server unreachable, a tool missing, an unexpected failure. */
  runtime: 3,
  /** The evidence ledger failed verification: a record or checkpoint does not match. */
  ledgerTampered: 10,
  /** A backup repository is corrupt (a blob, index or manifest fails authentication). */
  repoCorrupt: 11,
  /** The key or password given does not open the backup repository. */
  wrongKey: 12,
  /** A lock is held by another process, or a stale lock blocks the operation. */
  lockHeld: 13,
  /** An approval is still pending. */
  approvalPending: 14,
  /** An approval was rejected. */
  approvalRejected: 15,
  /** An approval request or grant expired. */
  approvalExpired: 16,
  /** A release was rolled back. */
  rolledBack: 17,
  /** The newest backup is older than the RPO objective allows. */
  rpoAtRisk: 18,
  /** Authentication missing or invalid, or the identity lacks the role. */
  forbidden: 19,
  /** Interrupted by SIGINT/SIGTERM; work in progress was stopped cleanly. */
  interrupted: 130,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName];
