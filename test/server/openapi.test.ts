import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, openApiPath, type OpenApiDocument } from '../../src/server/index.js';
import { createFixture, type Fixture } from './fixture.js';

/** `METHOD /path/{param}` of every route Hono registered (middleware, method ALL, left out). */
function registeredRoutes(f: Fixture): Set<string> {
  return new Set(
    f.app.routes
      .filter((route) => route.method !== 'ALL')
      .map((route) => `${route.method} ${openApiPath(route.path)}`),
  );
}

function documentedRoutes(doc: OpenApiDocument): Set<string> {
  const out = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const method of Object.keys(operations)) out.add(`${method.toUpperCase()} ${path}`);
  }
  return out;
}

/** Every `$ref` in the document, with where it was found. */
function refs(value: unknown, at = '#'): [string, string][] {
  if (Array.isArray(value)) return value.flatMap((item, i) => refs(item, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, item]) =>
    key === '$ref' && typeof item === 'string' ? [[item, at]] : refs(item, `${at}/${key}`),
  );
}

function resolve(doc: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);
}

describe('/openapi.json', () => {
  let f: Fixture;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    f = await createFixture();
    const res = await f.request('/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as OpenApiDocument;
  });
  afterAll(async () => {
    await f.close();
  });

  it('documents every registered route, and registers every documented one', () => {
    const registered = registeredRoutes(f);
    const documented = documentedRoutes(doc);
    expect([...registered].sort()).toEqual([...documented].sort());
    expect(registered.size).toBe(ROUTES.length);
  });

  it('is the contract’s route list exactly', () => {
    expect([...documentedRoutes(doc)].sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'GET /openapi.json',
        'GET /v1/whoami',
        'GET /v1/ledger/records',
        'GET /v1/ledger/records/{ref}',
        'GET /v1/ledger/count',
        'POST /v1/ledger/records',
        'GET /v1/ledger/verify',
        'GET /v1/ledger/export',
        'GET /v1/tokens',
        'POST /v1/tokens',
        'DELETE /v1/tokens/{id}',
      ].sort(),
    );
  });

  it('is OpenAPI 3.1 with a bearer scheme, required on every route but the system ones', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const operation of Object.values(operations)) {
        const open = ['/healthz', '/readyz', '/metrics', '/openapi.json'].includes(path);
        expect(operation.security, path).toEqual(open ? [] : [{ bearerAuth: [] }]);
        if (!open) expect(Object.keys(operation.responses), path).toContain('401');
      }
    }
  });

  it('resolves every $ref', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(10);
    for (const [ref, at] of all) {
      expect(ref, at).toMatch(/^#\//);
      expect(resolve(doc, ref), `${ref} at ${at}`).toBeDefined();
    }
  });

  it('generates request schemas from the validating zod schemas', () => {
    const append = doc.paths['/v1/ledger/records']?.post;
    expect(append?.requestBody).toBeDefined();
    const body = doc.components.schemas.AppendRecordRequest as { oneOf: { properties: object }[] };
    for (const variant of body.oneOf) {
      expect(Object.keys(variant.properties).sort()).toEqual(['body', 'kind', 'subject']);
      // Strict: a body naming its actor is refused, and the document says so.
      expect(variant).toMatchObject({ additionalProperties: false });
    }
    const list = doc.paths['/v1/ledger/records']?.get;
    expect(list?.parameters?.map((p) => p.name)).toEqual([
      'limit',
      'order',
      'kind',
      'gate',
      'subject',
      'afterSeq',
      'beforeSeq',
    ]);
    const show = doc.paths['/v1/ledger/records/{ref}']?.get;
    expect(show?.parameters).toEqual([
      expect.objectContaining({ name: 'ref', in: 'path', required: true }),
    ]);
  });

  it('gives every operation a unique operationId and a summary', () => {
    const ids = Object.values(doc.paths).flatMap((ops) =>
      Object.values(ops).map((op) => op.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) expect(op.summary.length).toBeGreaterThan(5);
    }
  });
});
