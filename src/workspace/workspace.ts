import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { TokenService, localActor, requirePermission } from '../auth/index.js';
import {
  Ledger,
  LocalEvidenceLedger,
  loadPrivateKey,
  loadPublicKey,
  type Actor,
  type EvidenceLedger,
} from '../ledger/index.js';
import { ShipError, registerSecret } from '../core/index.js';
import {
  findSecretRefs,
  findSpecFile,
  loadSpec,
  resolveSecretString,
  type LoadedSpec,
  type Spec,
} from '../spec/index.js';
import { RemoteClient, RemoteLedger, type RemoteTarget } from '../remote/index.js';
import { notifierFromSpec, type Notifier } from '../notify/index.js';
import { openStore, storeLocation, type MigrationReport, type Store } from '../store/index.js';

export interface WorkspaceOptions {
  /** Directory to look for the spec in. */
  cwd: string;
  /** Explicit spec path (`--spec`). */
  specPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Record evidence through this `shipshape serve` instead of the local state store. */
  remote?: RemoteTarget;
}

/** Default location of the witness log of signed checkpoints, relative to the spec. */
export const DEFAULT_CHECKPOINT_LOG = '.shipshape/ledger-checkpoints.jsonl';

/**
 * Registers for redaction the current value of every secret the spec references, resolved or
 * not: a secret must not reach output just because the command that printed it never needed it.
 * Missing variables and unreadable files are skipped here; they fail when used.
 */
async function registerReferencedSecrets(
  loaded: LoadedSpec,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  for (const ref of findSecretRefs(loaded.spec)) {
    if (ref.kind === 'env') {
      const value = env[ref.name];
      if (value !== undefined && value !== '') registerSecret(value);
      continue;
    }
    const path = isAbsolute(ref.name) ? ref.name : resolve(loaded.dir, ref.name);
    const content = await readFile(path, 'utf8').catch(() => undefined);
    if (content !== undefined && content.trim() !== '') registerSecret(content.trim());
  }
}

/**
 * A service's working context: its loaded spec, its state store and evidence ledger (opened on
 * first use), and who is acting. The CLI and the server both work through it.
 */
export class Workspace {
  readonly loaded: LoadedSpec;
  readonly env: NodeJS.ProcessEnv;
  readonly actor: Actor;
  #store: Promise<{ store: Store; migration: MigrationReport }> | undefined;
  #ledger: Promise<Ledger> | undefined;
  readonly #remote: RemoteTarget | undefined;

  private constructor(loaded: LoadedSpec, env: NodeJS.ProcessEnv, remote?: RemoteTarget) {
    this.loaded = loaded;
    this.env = env;
    this.actor = localActor(loaded.spec);
    this.#remote = remote;
  }

  /** Loads the spec (all problems reported at once) and returns the workspace around it. */
  static async open(options: WorkspaceOptions): Promise<Workspace> {
    const file = findSpecFile(options.cwd, options.specPath);
    const loaded = await loadSpec(file);
    await registerReferencedSecrets(loaded, options.env ?? process.env);
    return new Workspace(loaded, options.env ?? process.env, options.remote);
  }

  get spec(): Spec {
    return this.loaded.spec;
  }

  /** Directory holding the spec; relative paths in the spec resolve against it. */
  get dir(): string {
    return this.loaded.dir;
  }

  /** Resolves a path from the spec relative to the spec's directory. */
  path(p: string): string {
    return isAbsolute(p) ? p : resolve(this.dir, p);
  }

  /** The state store, migrated. Opened once. */
  async store(): Promise<Store> {
    return (await this.#opened()).store;
  }

  /** What opening the store migrated (empty `applied` when it was already current). */
  async migration(): Promise<MigrationReport> {
    return (await this.#opened()).migration;
  }

  #opened(): Promise<{ store: Store; migration: MigrationReport }> {
    this.#store ??= (async () => {
      const store = await openStore(storeLocation(this.dir, this.env));
      try {
        return { store, migration: await store.migrate() };
      } catch (error) {
        await store.close();
        throw error;
      }
    })();
    return this.#store;
  }

  /** The evidence ledger, with the signing and verification keys the spec names. */
  ledger(): Promise<Ledger> {
    this.#ledger ??= (async () => {
      const store = await this.store();
      const config = this.spec.ledger;
      if (!config) return new Ledger(store, {});
      const privateKey = this.#signingKey();
      const publicKey = await this.publicKey();
      return new Ledger(store, {
        ...(privateKey ? { signer: { privateKey } } : {}),
        ...(publicKey ? { publicKey } : {}),
        checkpointEvery: config.checkpoint_every,
        checkpointLog: this.path(config.checkpoint_log),
      });
    })();
    return this.#ledger;
  }

  /**
   * Where commands record and read evidence: the server's ledger in remote mode (the server
   * decides who is acting, from the token), else the local ledger acting as the local operator.
   */
  async evidence(): Promise<EvidenceLedger> {
    if (this.#remote) return new RemoteLedger(new RemoteClient(this.#remote));
    const ledger = await this.ledger();
    return new LocalEvidenceLedger(ledger, this.actor, (await this.store()).location, (actor) => {
      requirePermission(actor, 'evidence.append');
    });
  }

  /** API tokens of this workspace's store, checked against its spec (docs/identity.md). */
  async tokens(): Promise<TokenService> {
    return new TokenService({
      store: await this.store(),
      ledger: await this.ledger(),
      spec: this.spec,
    });
  }

  /**
   * Notifications to the spec's `notifications.channels`, deliveries recorded in the store.
   * Secrets are resolved when a notification is sent: an unset one fails that delivery.
   */
  async notifier(): Promise<Notifier> {
    return notifierFromSpec({
      spec: this.spec,
      store: await this.store(),
      baseDir: this.dir,
      env: this.env,
    });
  }

  /** The ledger's public key as configured in the spec (inline PEM or a path), if any. */
  async publicKey(): Promise<KeyObject | undefined> {
    const value = this.spec.ledger?.public_key;
    if (value === undefined) return undefined;
    const pem = value.includes('-----BEGIN') ? value : await this.#readKeyFile(value, 'public_key');
    return loadPublicKey(pem);
  }

  #signingKey(): KeyObject | undefined {
    const ref = this.spec.ledger?.signing_key;
    if (ref === undefined) return undefined;
    const pem = resolveSecretString(ref, {
      baseDir: this.dir,
      env: this.env,
      field: 'ledger.signing_key',
    });
    return loadPrivateKey(pem);
  }

  async #readKeyFile(p: string, field: string): Promise<string> {
    try {
      return await readFile(this.path(p), 'utf8');
    } catch (error) {
      throw ShipError.usage(
        'SHIP_LEDGER_KEY_MISSING',
        `ledger.${field} points to ${this.path(p)}, which cannot be read: ${(error as Error).message}`,
        { hint: 'run `shipshape init` to generate the ledger key pair, or fix the path' },
      );
    }
  }

  async close(): Promise<void> {
    if (this.#store) await (await this.#store.catch(() => undefined))?.store.close();
  }
}
