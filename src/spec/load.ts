import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ShipError, type Problem } from '../core/index.js';
import { SpecErrorCode, SpecProblemCode } from './codes.js';
import { problemsFromIssue } from './issues.js';
import { code, dotted, type PendingProblem } from './pending.js';
import { referenceProblems } from './references.js';
import { specSchema, SUPPORTED_SPEC_VERSIONS, type Spec } from './schema.js';
import { findDuplicateKeys, locate, positionOf } from './yaml-locate.js';

/** A spec and where it came from. */
export interface LoadedSpec {
  spec: Spec;
  /** The file as given (used in messages). */
  file: string;
  /** Absolute directory of the file: relative paths and `${file:…}` references start here. */
  dir: string;
}

/** File names looked for, in order, when no spec path is given. */
export const SPEC_FILE_NAMES = ['shipshape.yaml', 'shipshape.yml'] as const;

/** Larger than any honest spec; refusing early bounds the parser's time and memory. */
export const MAX_SPEC_BYTES = 1024 * 1024;

/**
 * Alias expansions allowed when building the data. A handful of anchors is normal; a
 * "billion laughs" document needs far more and is refused instead of exhausting memory.
 */
const MAX_ALIAS_COUNT = 100;

const INIT_HINT = 'run `shipshape init` to create a commented starter spec';

/**
 * The spec file to use: `explicit` (relative to `cwd`) if given, else `shipshape.yaml`, then
 * `shipshape.yml`, in `cwd`.
 *
 * @throws ShipError `SHIP_SPEC_NOT_FOUND` (exit 2) when there is none.
 */
export function findSpecFile(cwd: string, explicit?: string): string {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    if (existsSync(file)) return file;
    throw ShipError.usage('SHIP_SPEC_NOT_FOUND', `spec file ${file} does not exist`, {
      hint: `check the path, or ${INIT_HINT}`,
      details: { file },
    });
  }
  for (const name of SPEC_FILE_NAMES) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return file;
  }
  throw ShipError.usage(
    'SHIP_SPEC_NOT_FOUND',
    `no ${SPEC_FILE_NAMES.join(' or ')} in ${resolve(cwd)}`,
    { hint: `${INIT_HINT}, or pass the spec's path with --spec`, details: { dir: resolve(cwd) } },
  );
}

/**
 * Reads and validates a spec file.
 *
 * @throws ShipError `SHIP_SPEC_NOT_FOUND` when the file is missing, `SHIP_SPEC_UNREADABLE`
 *   when it cannot be read, `SHIP_SPEC_INVALID` with every problem when it is not valid
 *   (all exit 2).
 */
export async function loadSpec(file: string): Promise<LoadedSpec> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (error) {
    throw notReadable(file, error);
  }
  if (size > MAX_SPEC_BYTES) throw tooLarge(file, size);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw notReadable(file, error);
  }
  return parseSpec(text, file);
}

function notReadable(file: string, error: unknown): ShipError {
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'ENOENT' || errno === 'ENOTDIR') {
    return ShipError.usage('SHIP_SPEC_NOT_FOUND', `spec file ${file} does not exist`, {
      hint: INIT_HINT,
      details: { file },
    });
  }
  return ShipError.usage(
    SpecErrorCode.unreadable,
    `spec file ${file} cannot be read: ${errno ?? String(error)}`,
    { hint: 'check that it is a file this user may read', details: { file }, cause: error },
  );
}

function tooLarge(file: string, size: number): ShipError {
  return invalid(file, [
    {
      code: SpecProblemCode.tooLarge,
      message: `the spec is ${size} bytes; the limit is ${MAX_SPEC_BYTES}`,
      location: { file, line: 1, column: 1 },
      expected: `a file of at most ${MAX_SPEC_BYTES} bytes`,
      hint: 'a spec describes one service; is this the right file?',
    },
  ]);
}

function invalid(file: string, problems: Problem[]): ShipError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return ShipError.problems(SpecErrorCode.invalid, `${file}: ${count} in the spec`, problems);
}

/** Parse failures that throw instead of being collected: a too-deep document, alias bombs. */
function hostile(error: unknown): string {
  if (error instanceof RangeError) return 'the document is nested too deeply to read';
  if (error instanceof ReferenceError) {
    return `the document expands aliases more than ${MAX_ALIAS_COUNT} times (a "billion laughs" document?)`;
  }
  // Anything else yaml throws while building values is about the document (e.g. a merge key
  // `<<` whose source is not a map); report it rather than crash.
  if (error instanceof Error) return yamlMessage(error.message);
  throw error;
}

function yamlMessage(message: string): string {
  // yaml appends " at line L, column C:" and a source excerpt; the location is ours to print.
  // Some messages also quote the offending source after a colon ("Not a YAML token: …"); that
  // text may be a secret on a mangled line, and the location already points at it.
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  const quote = first.indexOf(': ');
  return quote === -1 ? first : first.slice(0, quote);
}

/**
 * Parses and validates spec text. `file` names the source in messages; `dir` is its
 * directory.
 *
 * @throws ShipError `SHIP_SPEC_INVALID` (exit 2) listing every problem with file:line:column.
 */
export function parseSpec(text: string, file: string): LoadedSpec {
  if (Buffer.byteLength(text, 'utf8') > MAX_SPEC_BYTES) {
    throw tooLarge(file, Buffer.byteLength(text, 'utf8'));
  }
  const lineCounter = new LineCounter();
  const at = (node: Node | undefined) => ({ file, ...positionOf(node, lineCounter) });
  const problems: Problem[] = [];

  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, {
      lineCounter,
      uniqueKeys: false,
      prettyErrors: false,
      // YAML 1.1 merge keys (`<<: *defaults`), as in docker-compose files.
      merge: true,
      // Warnings would go to the console; nothing outside the CLI prints.
      logLevel: 'silent',
    });
  } catch (error) {
    throw invalid(file, [
      {
        code: SpecProblemCode.yamlSyntax,
        message: hostile(error),
        location: { file, line: 1, column: 1 },
      },
    ]);
  }

  for (const error of doc.errors) {
    // One report per kind of syntax error: the first is what the author must fix, and a hostile
    // document could otherwise produce thousands of them.
    if (problems.some((problem) => problem.message.endsWith(`(${error.code})`))) continue;
    const { line, col } = lineCounter.linePos(error.pos[0]);
    const message =
      error.code === 'RESOURCE_EXHAUSTION'
        ? 'the document is nested too deeply to read'
        : yamlMessage(error.message);
    problems.push({
      code: SpecProblemCode.yamlSyntax,
      message: `${message} (${error.code})`,
      location: { file, line, column: col },
      hint: 'fix the YAML syntax; problems after this point are not reported until it parses',
    });
  }
  const firstSyntaxLine = problems[0]?.location?.line ?? Number.POSITIVE_INFINITY;

  for (const duplicate of findDuplicateKeys(doc)) {
    const first = positionOf(duplicate.firstKey, lineCounter);
    const name = duplicate.path.at(-1) ?? '';
    problems.push({
      code: SpecProblemCode.duplicateKey,
      message: `${code(name)} is defined more than once (first at line ${first.line})`,
      path: dotted(duplicate.path),
      location: at(duplicate.key),
      hint: `keep one ${code(name)}: merge the two, or rename one of them`,
    });
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    problems.push({
      code: SpecProblemCode.yamlSyntax,
      message: hostile(error),
      location: { file, line: 1, column: 1 },
    });
    throw invalid(file, problems);
  }

  const pending = validate(data);
  for (const problem of pending) {
    const location = at(nodeFor(doc, problem));
    // After a syntax error the rest of the document is a guess: keep only what lies before
    // it, and nothing that depends on the whole file (missing keys, references).
    const reliable =
      location.line < firstSyntaxLine &&
      problem.code !== SpecProblemCode.missingKey &&
      problem.code !== SpecProblemCode.unknownReference &&
      problem.code !== SpecProblemCode.notAMap;
    if (firstSyntaxLine !== Number.POSITIVE_INFINITY && !reliable) continue;
    problems.push({
      code: problem.code,
      message: problem.message,
      ...(problem.path.length === 0 ? {} : { path: dotted(problem.path) }),
      location,
      ...(problem.expected === undefined ? {} : { expected: problem.expected }),
      ...(problem.hint === undefined ? {} : { hint: problem.hint }),
    });
  }

  if (problems.length > 0) throw invalid(file, sortAndDedupe(problems));
  const parsed = specSchema.safeParse(withoutExtensions(data));
  if (!parsed.success) {
    // validate() found nothing, so this cannot happen; fail loudly rather than load a bad spec.
    throw new Error(`spec schema rejected ${file} without reporting a problem`);
  }
  return { spec: parsed.data, file, dir: dirname(resolve(file)) };
}

/** Schema and cross-reference problems of the parsed document. */
function validate(data: unknown): PendingProblem[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return [
      {
        code: SpecProblemCode.notAMap,
        path: [],
        message:
          data === null || data === undefined
            ? 'the spec is empty'
            : `the spec is ${Array.isArray(data) ? 'a list' : 'a single value'}, not a map of sections`,
        expected: 'a map with `version: 1`, `service`, and the other sections',
        hint: INIT_HINT,
      },
    ];
  }
  const version = (data as Record<string, unknown>).version;
  if (
    typeof version === 'number' &&
    !(SUPPORTED_SPEC_VERSIONS as readonly number[]).includes(version)
  ) {
    return [
      {
        code: SpecProblemCode.unsupportedVersion,
        path: ['version'],
        message: `spec version ${version} is not supported by this version of shipshape`,
        expected: SUPPORTED_SPEC_VERSIONS.map((v) => `\`version: ${v}\``).join(' or '),
        hint:
          version > Math.max(...SUPPORTED_SPEC_VERSIONS)
            ? 'upgrade shipshape to read this spec'
            : `write \`version: ${SUPPORTED_SPEC_VERSIONS.join('')}\``,
      },
    ];
  }
  const result = specSchema.safeParse(withoutExtensions(data));
  const fromSchema = result.success
    ? []
    : result.error.issues.flatMap((issue) => problemsFromIssue(issue, specSchema, data));
  return [...fromSchema, ...referenceProblems(data)];
}

/** Top-level `x-…` keys are the author's (a home for YAML anchors); the schema never sees them. */
export const EXTENSION_KEY = /^x-/;

function withoutExtensions(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([key]) => !EXTENSION_KEY.test(key)));
}

function nodeFor(doc: Document, problem: PendingProblem): Node | undefined {
  if (problem.at === 'parent') {
    const parent = locate(doc, problem.path.slice(0, -1));
    return parent.key ?? parent.value;
  }
  const found = locate(doc, problem.path);
  if (problem.at === 'key' || !found.found) return found.key ?? found.value;
  return found.value ?? found.key;
}

function sortAndDedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((problem) => {
    const key = JSON.stringify([problem.code, problem.path, problem.location, problem.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // Stable sort: problems at the same place keep the order they were found in.
  return unique.sort(
    (a, b) =>
      (a.location?.line ?? 0) - (b.location?.line ?? 0) ||
      (a.location?.column ?? 0) - (b.location?.column ?? 0),
  );
}
