import type {
  MintInput,
  MintResult,
  RevokeResult,
  TokenInfo,
  TokenManager,
} from '../auth/index.js';
import { formatDuration } from '../core/index.js';
import type { RemoteClient } from './client.js';

/**
 * Token management through `shipshape serve` (`/v1/tokens`). Acts as the bearer token: the
 * `actor` arguments of the interface are ignored, because the server decides who is acting.
 */
export class RemoteTokenManager implements TokenManager {
  readonly #client: RemoteClient;

  constructor(client: RemoteClient) {
    this.#client = client;
  }

  mint(input: MintInput): Promise<MintResult> {
    return this.#client.request<MintResult>('POST', '/v1/tokens', {
      body: {
        person: input.person,
        ...(input.roles === undefined ? {} : { roles: input.roles }),
        ...(input.expiresIn === undefined ? {} : { expires: formatDuration(input.expiresIn) }),
        ...(input.description === undefined ? {} : { description: input.description }),
      },
    });
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.#client.request<{ tokens: TokenInfo[] }>('GET', '/v1/tokens')).tokens;
  }

  revoke(id: string): Promise<RevokeResult> {
    return this.#client.request<RevokeResult>('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }
}
