/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: every line must be
 * a HELP, a TYPE, a sample, or empty; every sample must belong to a declared metric family;
 * label values must be correctly escaped. Throws on the first bad line.
 */

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
// Prometheus parses values with Go's strconv.ParseFloat, which takes Inf and NaN in any case
// (prom-client writes `Nan`).
const VALUE = String.raw`(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?[Ii]nf|[Nn]a[Nn])`;
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\["\\n])*"`;
const HELP = new RegExp(String.raw`^# HELP (${NAME}) (.*)$`);
const TYPE = new RegExp(String.raw`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SAMPLE = new RegExp(
  String.raw`^(${NAME})(?:\{((?:${LABEL}=${LABEL_VALUE})(?:,${LABEL}=${LABEL_VALUE})*,?)?\})? (${VALUE})(?: -?\d+)?$`,
);
const PAIR = new RegExp(String.raw`(${LABEL})=(${LABEL_VALUE})`, 'g');

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

function unescape(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

/** The family a sample belongs to: histogram and summary samples carry suffixes. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    if (base !== undefined && types.has(base)) return base;
  }
  return undefined;
}

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.pop();
  lines.forEach((line, index) => {
    const where = `line ${index + 1}: ${JSON.stringify(line)}`;
    if (line === '') return;
    const h = HELP.exec(line);
    if (h) {
      if (help.has(h[1]!)) throw new Error(`duplicate HELP at ${where}`);
      help.set(h[1]!, h[2]!);
      return;
    }
    const t = TYPE.exec(line);
    if (t) {
      if (types.has(t[1]!)) throw new Error(`duplicate TYPE at ${where}`);
      types.set(t[1]!, t[2]!);
      return;
    }
    const s = SAMPLE.exec(line);
    if (!s) throw new Error(`not a HELP, TYPE or sample: ${where}`);
    const name = s[1]!;
    if (familyOf(name, types) === undefined) throw new Error(`sample before its TYPE: ${where}`);
    const labels: Record<string, string> = {};
    for (const pair of (s[2] ?? '').matchAll(PAIR)) {
      if (pair[1]! in labels) throw new Error(`duplicate label ${pair[1]!}: ${where}`);
      labels[pair[1]!] = unescape(pair[2]!);
    }
    samples.push({
      name,
      labels,
      value: /^nan$/i.test(s[3]!) ? NaN : Number(s[3]!.replace(/inf/i, 'Infinity')),
    });
  });
  return { types, help, samples };
}

/** The samples of `name` whose labels include `labels`. */
export function samplesOf(
  exposition: Exposition,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return exposition.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}
