import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type LineCounter,
  type Node,
  type ParsedNode,
} from 'yaml';

/** Where a path leads in a YAML document: the value node and the key it hangs under. */
export interface Located {
  /** The deepest value node reached (the whole path's value when `found`). */
  value: Node | undefined;
  /** The key node of the map entry holding `value`, when it sits in a map. */
  key: Node | undefined;
  /** Whether every path segment was found. */
  found: boolean;
}

/** The text of a map key as the loader's data sees it. */
export function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  // A collection or alias as a key: stringifying it can be as costly as the document (or
  // throw), and no spec field has such a key, so a marker is enough to point at it.
  return key === null || key === undefined ? '' : COMPLEX_KEY;
}

const COMPLEX_KEY = '<complex key>';

// Aliases may point at aliases; a document cannot build a longer honest chain than this.
const MAX_ALIAS_HOPS = 64;

function deref(node: unknown, doc: Document): unknown {
  let current = node;
  for (let hops = 0; isAlias(current) && hops < MAX_ALIAS_HOPS; hops += 1) {
    current = current.resolve(doc);
  }
  return current;
}

/**
 * Follows `path` (map keys and sequence indexes) from the document root, through aliases, as
 * far as it exists. Used to turn a schema issue's path into a line and column.
 */
export function locate(doc: Document, path: readonly PropertyKey[]): Located {
  let value: Node | undefined = doc.contents ?? undefined;
  let key: Node | undefined;
  for (const segment of path) {
    const current = deref(value, doc);
    if (isMap(current)) {
      const pair = current.items.find((item) => keyText(item.key) === String(segment));
      if (!pair) return { value, key, found: false };
      key = pair.key as Node;
      // An empty value (`retention:`) has no node: report at its key.
      value = (pair.value ?? undefined) as Node | undefined;
    } else if (isSeq(current) && typeof segment === 'number') {
      const item = current.items[segment] as Node | undefined;
      if (item === undefined) return { value, key, found: false };
      key = undefined;
      value = item;
    } else {
      return { value, key, found: false };
    }
  }
  return { value, key, found: true };
}

/** 1-based line and column of a node's start, or of the document start. */
export function positionOf(
  node: Node | undefined,
  lineCounter: LineCounter,
): { line: number; column: number } {
  const offset = (node as ParsedNode | undefined)?.range[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** A map key defined twice in the same map. */
export interface DuplicateKey {
  path: string[];
  key: Node;
  firstKey: Node;
}

/** A path as a linked list, so that walking a deep document does not copy paths. */
interface PathLink {
  segment: string;
  parent: PathLink | undefined;
}

function pathOf(link: PathLink | undefined): string[] {
  const out: string[] = [];
  for (let at = link; at !== undefined; at = at.parent) out.push(at.segment);
  return out.reverse();
}

/**
 * Map keys that appear more than once in the same map. The parser is told to keep them (so
 * that the rest of the document still loads) and this reports each with both places.
 * Iterative, so a deeply nested document cannot exhaust the stack; aliases are not followed,
 * so every node is visited once.
 */
export function findDuplicateKeys(doc: Document): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const stack: { node: unknown; path: PathLink | undefined }[] = [
    { node: doc.contents, path: undefined },
  ];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { node, path } = entry;
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        const name = keyText(pair.key);
        const here = { segment: name, parent: path };
        const first = seen.get(name);
        if (first === undefined) seen.set(name, pair.key as Node);
        else out.push({ path: pathOf(here), key: pair.key as Node, firstKey: first });
        stack.push({ node: pair.value, path: here });
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        stack.push({ node: item, path: { segment: String(index), parent: path } });
      });
    }
  }
  return out;
}
