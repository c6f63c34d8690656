import { SpecProblemCode } from './codes.js';
import { findLiteralPassword, variableBase } from './connection.js';
import { code, listNames, type PendingProblem } from './pending.js';
import { SECRET_REF_EXPECTED, isSingleSecretRef, scanSecretRefs } from './secrets.js';
import { didYouMean } from '../core/index.js';

/*
 * Checks that span fields: names that must refer to something defined elsewhere, and secrets
 * that must be references. They run on the raw document, not on the schema's output, so that
 * they are reported together with schema problems elsewhere in the same file.
 */

type Path = (string | number)[];

function asMap(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function entries(value: unknown): [string, unknown][] {
  return Object.entries(asMap(value) ?? {});
}

function unknownReference(
  path: Path,
  name: string,
  defined: string[],
  section: string,
  addHint: string,
  at: 'value' | 'key' = 'value',
): PendingProblem {
  const suggestion = didYouMean(name, defined);
  return {
    code: SpecProblemCode.unknownReference,
    path,
    at,
    message: `${code(name)} is not defined under ${code(section)}`,
    expected: `one of ${listNames(defined)}`,
    hint: suggestion === undefined ? addHint : `did you mean ${code(suggestion)}?`,
  };
}

function checkRoles(data: Record<string, unknown>, out: PendingProblem[]): void {
  const people = Object.keys(asMap(data.people) ?? {});
  for (const [role, holders] of entries(data.roles)) {
    if (!Array.isArray(holders)) continue;
    holders.forEach((id: unknown, index) => {
      if (typeof id !== 'string' || people.includes(id)) return;
      out.push(
        unknownReference(
          ['roles', role, index],
          id,
          people,
          'people',
          `add ${code(id)} under \`people\`, or remove them from this role`,
        ),
      );
    });
  }
}

function checkApprovals(data: Record<string, unknown>, out: PendingProblem[]): void {
  const roles = Object.keys(asMap(data.roles) ?? {});
  for (const [env, settings] of entries(data.environments)) {
    const roleList = asMap(asMap(asMap(settings)?.release)?.approval)?.roles;
    if (!Array.isArray(roleList)) continue;
    roleList.forEach((role: unknown, index) => {
      if (typeof role !== 'string' || roles.includes(role)) return;
      out.push(
        unknownReference(
          ['environments', env, 'release', 'approval', 'roles', index],
          role,
          roles,
          'roles',
          `add ${code(`${role}:`)} under \`roles\` with the ids of the people who hold it`,
        ),
      );
    });
  }
}

function checkSecretRefs(path: Path, value: string, out: PendingProblem[]): boolean {
  const bad = scanSecretRefs(value).bad[0];
  if (bad === undefined) return true;
  out.push({
    code: SpecProblemCode.badSecretRef,
    path,
    message: `${code(bad.text)} is not a secret reference: ${bad.reason}`,
    expected: `a secret reference: ${SECRET_REF_EXPECTED}`,
  });
  return false;
}

function checkDatastores(data: Record<string, unknown>, out: PendingProblem[]): void {
  const repositories = Object.keys(asMap(data.repositories) ?? {});
  const environments = Object.keys(asMap(data.environments) ?? {});
  for (const [name, store] of entries(data.datastores)) {
    const repository = asMap(store)?.repository;
    if (typeof repository === 'string' && !repositories.includes(repository)) {
      out.push(
        unknownReference(
          ['datastores', name, 'repository'],
          repository,
          repositories,
          'repositories',
          `add a repository named ${code(repository)} under \`repositories\``,
        ),
      );
    }
    for (const [env, connection] of entries(asMap(store)?.connection)) {
      const path = ['datastores', name, 'connection', env];
      if (!environments.includes(env)) {
        out.push(
          unknownReference(
            path,
            env,
            environments,
            'environments',
            `add ${code(`${env}: {}`)} under \`environments\``,
            'key',
          ),
        );
      }
      if (typeof connection !== 'string' || !checkSecretRefs(path, connection, out)) continue;
      const literal = findLiteralPassword(connection, variableBase(name, env));
      if (literal === undefined) continue;
      out.push({
        code: SpecProblemCode.literalSecret,
        path,
        message: `the connection contains a literal password: ${literal.masked}`,
        expected: `the password by reference (${SECRET_REF_EXPECTED}), never the password itself`,
        hint: `put the password in an environment variable and reference it: \`${literal.suggestion}\` (or keep the whole connection string in one: ${code(`\${env:${variableBase(name, env)}_URL}`)})`,
      });
    }
  }
}

function requireReference(
  path: Path,
  value: unknown,
  example: string,
  out: PendingProblem[],
): void {
  if (typeof value !== 'string' || !checkSecretRefs(path, value, out)) return;
  if (isSingleSecretRef(value)) return;
  out.push({
    code: SpecProblemCode.literalSecret,
    path,
    message: 'a literal value where a secret reference is required',
    expected: `exactly one secret reference: ${SECRET_REF_EXPECTED}`,
    hint: `move the value out of the spec and write ${code(`${String(path.at(-1))}: ${example}`)}`,
  });
}

function checkSecretFields(data: Record<string, unknown>, out: PendingProblem[]): void {
  for (const [name, repo] of entries(data.repositories)) {
    const base = variableBase(name);
    requireReference(
      ['repositories', name, 'key'],
      asMap(repo)?.key,
      `\${file:.shipshape/keys/${name}.key}`,
      out,
    );
    const s3 = asMap(asMap(repo)?.s3);
    for (const field of ['access_key_id', 'secret_access_key']) {
      requireReference(
        ['repositories', name, 's3', field],
        s3?.[field],
        `\${env:${base}_${field.toUpperCase()}}`,
        out,
      );
    }
  }
  const ledger = asMap(data.ledger);
  requireReference(
    ['ledger', 'signing_key'],
    ledger?.signing_key,
    '${file:.shipshape/keys/ledger.key}',
    out,
  );
  if (typeof ledger?.public_key === 'string' && ledger.public_key.includes('PRIVATE KEY')) {
    out.push({
      code: SpecProblemCode.literalSecret,
      path: ['ledger', 'public_key'],
      message: '`ledger.public_key` contains a private key',
      expected: 'the public key (a PEM file path, or `-----BEGIN PUBLIC KEY-----` text)',
      hint: 'remove the private key from the spec at once and rotate it; reference it from `signing_key` instead',
    });
  }
}

function checkNotifications(data: Record<string, unknown>, out: PendingProblem[]): void {
  for (const [name, channel] of entries(asMap(data.notifications)?.channels)) {
    const base = variableBase(name, 'webhook');
    requireReference(
      ['notifications', 'channels', name, 'secret'],
      asMap(channel)?.secret,
      `\${env:${base}_SECRET}`,
      out,
    );
    const url = asMap(channel)?.url;
    const path = ['notifications', 'channels', name, 'url'];
    if (typeof url !== 'string' || !checkSecretRefs(path, url, out)) continue;
    const literal = findLiteralPassword(url, base);
    if (literal === undefined) continue;
    out.push({
      code: SpecProblemCode.literalSecret,
      path,
      message: `the URL contains a literal password: ${literal.masked}`,
      expected: `the password by reference (${SECRET_REF_EXPECTED}), never the password itself`,
      hint: `reference it: \`${literal.suggestion}\``,
    });
  }
}

function checkDrill(data: Record<string, unknown>, out: PendingProblem[]): void {
  const drill = asMap(data.drill);
  if (drill === undefined) return;
  const datastores = Object.keys(asMap(data.datastores) ?? {});
  const environments = Object.keys(asMap(data.environments) ?? {});
  const add = `add it under \`datastores\`, or remove it from the drill`;
  if (typeof drill.environment === 'string' && !environments.includes(drill.environment)) {
    out.push(
      unknownReference(
        ['drill', 'environment'],
        drill.environment,
        environments,
        'environments',
        `add ${code(`${drill.environment}: {}`)} under \`environments\``,
      ),
    );
  }
  if (Array.isArray(drill.datastores)) {
    drill.datastores.forEach((name: unknown, index) => {
      if (typeof name !== 'string' || datastores.includes(name)) return;
      out.push(
        unknownReference(['drill', 'datastores', index], name, datastores, 'datastores', add),
      );
    });
  }
  for (const [name, connection] of entries(drill.targets)) {
    const path = ['drill', 'targets', name];
    if (!datastores.includes(name)) {
      out.push(unknownReference(path, name, datastores, 'datastores', add, 'key'));
    }
    if (typeof connection !== 'string' || !checkSecretRefs(path, connection, out)) continue;
    const literal = findLiteralPassword(connection, variableBase(name, 'dr'));
    if (literal === undefined) continue;
    out.push({
      code: SpecProblemCode.literalSecret,
      path,
      message: `the DR target contains a literal password: ${literal.masked}`,
      expected: `the password by reference (${SECRET_REF_EXPECTED}), never the password itself`,
      hint: `reference it: \`${literal.suggestion}\``,
    });
  }
}

/** Cross-field problems of a parsed document (any shape: wrong shapes are skipped). */
export function referenceProblems(data: unknown): PendingProblem[] {
  const root = asMap(data);
  if (root === undefined) return [];
  const out: PendingProblem[] = [];
  checkRoles(root, out);
  checkApprovals(root, out);
  checkDatastores(root, out);
  checkSecretFields(root, out);
  checkNotifications(root, out);
  checkDrill(root, out);
  return out;
}
