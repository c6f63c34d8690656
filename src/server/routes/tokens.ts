import { z } from 'zod';
import {
  MintRequestSchema,
  MintResultSchema,
  RevokeResultSchema,
  TOKEN_ID_PATTERN,
  TokenInfoSchema,
  toMintInput,
} from '../../auth/index.js';
import { jsonRoute } from '../route.js';

const TokensSchema = z.strictObject({ tokens: z.array(TokenInfoSchema) });

const TokenIdParamsSchema = z.strictObject({
  id: z
    .string()
    .regex(TOKEN_ID_PATTERN, { message: 'must be a token id: 12 lowercase hex digits' })
    .meta({ description: 'the token id (the 12 hex digits after `ssp_`)' }),
});

export const listTokens = jsonRoute({
  method: 'GET',
  path: '/v1/tokens',
  operationId: 'listTokens',
  tag: 'tokens',
  summary: 'Every token ever minted, with its status (never a token or its hash)',
  access: 'tokens.manage',
  usesStore: true,
  response: { kind: 'json', status: 200, schema: TokensSchema, description: 'the tokens' },
  handle: async ({ services }) => ({ tokens: await (await services.tokens()).list() }),
});

export const mintToken = jsonRoute({
  method: 'POST',
  path: '/v1/tokens',
  operationId: 'mintToken',
  tag: 'tokens',
  summary: 'Mint a token for a person in the spec, optionally narrowed to some of their roles',
  description:
    'The token is in this answer only; the server keeps its SHA-256. The mint is recorded as a `token-minted` event by the caller.',
  access: 'tokens.manage',
  usesStore: true,
  body: MintRequestSchema,
  response: {
    kind: 'json',
    status: 201,
    schema: MintResultSchema,
    description: 'the token (shown once) and its info',
  },
  handle: async ({ services, body, actor }) =>
    (await services.tokens()).mint(toMintInput(body), actor),
});

export const revokeToken = jsonRoute({
  method: 'DELETE',
  path: '/v1/tokens/:id',
  operationId: 'revokeToken',
  tag: 'tokens',
  summary: 'Revoke a token; it stops working at once',
  description:
    'Revoking a revoked token changes nothing and answers `alreadyRevoked: true`. The revocation is recorded as a `token-revoked` event.',
  access: 'tokens.manage',
  usesStore: true,
  canNotFind: true,
  params: TokenIdParamsSchema,
  response: {
    kind: 'json',
    status: 200,
    schema: RevokeResultSchema,
    description: 'the token info after revocation',
  },
  handle: async ({ services, params, actor }) => (await services.tokens()).revoke(params.id, actor),
});
