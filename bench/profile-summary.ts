// Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most self time.
//
//   npx tsx bench/profile-summary.ts [--top N] FILE.cpuprofile…
//
// One table per profile (each thread writes its own: the main thread and every worker), as
// Markdown: self ms, share of the sampled time, function, and where it is defined.
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function isProfile(value: unknown): value is CpuProfile {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<CpuProfile>;
  return Array.isArray(v.nodes) && Array.isArray(v.samples) && Array.isArray(v.timeDeltas);
}

/** Where a function is defined, short: a path relative to the working directory, or `node:…`. */
function place(frame: CallFrame): string {
  if (frame.url === '') return '';
  const path = frame.url.startsWith('file://') ? new URL(frame.url).pathname : frame.url;
  const short = path.startsWith('/') ? relative(process.cwd(), path) : path;
  return `${short}:${frame.lineNumber + 1}`;
}

/** Self time per function (µs), summed over every node of the same name and place. */
export function selfTimes(profile: CpuProfile): { total: number; rows: Map<string, number> } {
  const byNode = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byNode.set(node.id, node);
  const rows = new Map<string, number>();
  let total = 0;
  // timeDeltas[i] is the time before sample i; charge it to the sample's node (as DevTools).
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byNode.get(profile.samples[i] ?? -1);
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    if (node === undefined) continue;
    total += delta;
    const name = node.callFrame.functionName || '(anonymous)';
    const where = place(node.callFrame);
    const key = where === '' ? name : `${name}\t${where}`;
    rows.set(key, (rows.get(key) ?? 0) + delta);
  }
  return { total, rows };
}

const args = process.argv.slice(2);
let top = 15;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i] ?? '');
}
if (files.length === 0 || !(top > 0)) {
  console.error('usage: tsx bench/profile-summary.ts [--top N] FILE.cpuprofile…');
  process.exit(2);
}

for (const file of files) {
  const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isProfile(value)) throw new Error(`${file} is not a V8 CPU profile`);
  const { total, rows } = selfTimes(value);
  const wall = (value.endTime - value.startTime) / 1000;
  const idle = rows.get('(idle)') ?? 0;
  console.log(
    `\n**${basename(file)}** — ${wall.toFixed(0)} ms profiled, ${((total - idle) / 1000).toFixed(0)} ms busy (not idle)\n`,
  );
  console.log('| self ms | share of busy time | function | where |');
  console.log('| ---: | ---: | --- | --- |');
  const sorted = [...rows].filter(([key]) => key !== '(idle)').sort((a, b) => b[1] - a[1]);
  for (const [key, micros] of sorted.slice(0, top)) {
    const [name = '', where = ''] = key.split('\t');
    const share = total - idle > 0 ? (100 * micros) / (total - idle) : 0;
    console.log(
      `| ${(micros / 1000).toFixed(0)} | ${share.toFixed(1)} % | \`${name}\` | ${where} |`,
    );
  }
}
