// Prints the tables of bench/repo-vs-restic.sh from its TSV results: every step side by side
// with Shipshape/restic ratios, then the targets and whether this run met them.
//
//   npx tsx bench/report-repo.ts results.tsv
//
// TSV columns: data, step, tool, wall s, user s, sys s, peak RSS KiB, input bytes, bytes added.
import { readFileSync } from 'node:fs';

interface Row {
  data: string;
  step: string;
  tool: string;
  wall: number;
  cpu: number;
  rssMb: number;
  inputMb: number;
  addedMb: number;
}

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: tsx bench/report-repo.ts results.tsv');
  process.exit(2);
}

const rows: Row[] = readFileSync(file, 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [data = '', step = '', tool = '', wall, user, sys, rssKb, input, added] =
      line.split('\t');
    return {
      data,
      step,
      tool,
      wall: Number(wall),
      cpu: Number(user) + Number(sys),
      rssMb: Number(rssKb) / 1024,
      inputMb: Number(input) / 1e6,
      addedMb: Number(added) / 1e6,
    };
  });

/** (data, step) → the two tools' rows, in the order the steps ran. */
const pairs = new Map<string, { data: string; step: string; restic?: Row; shipshape?: Row }>();
for (const row of rows) {
  const key = `${row.data}\u0000${row.step}`;
  const pair = pairs.get(key) ?? { data: row.data, step: row.step };
  if (row.tool === 'restic' || row.tool === 'shipshape') pair[row.tool] = row;
  pairs.set(key, pair);
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const ratio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');
const stepName: Record<string, string> = {
  backup: 'backup',
  're-backup': 're-backup (changed)',
  restore: 'restore',
  check: 'check --read-data',
};

console.log(
  '| data | step | restic s | shipshape s | speed ratio | restic MB/s | shipshape MB/s | restic CPU s | shipshape CPU s | restic RSS MB | shipshape RSS MB | restic added MB | shipshape added MB |',
);
console.log(
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
);
for (const { data, step, restic: r, shipshape: s } of pairs.values()) {
  if (r === undefined || s === undefined) continue;
  console.log(
    `| ${data} | ${stepName[step] ?? step} | ${f2(r.wall)} | ${f2(s.wall)} | ${ratio(r.wall / s.wall)} | ` +
      `${f0(r.inputMb / r.wall)} | ${f0(s.inputMb / s.wall)} | ${f1(r.cpu)} | ${f1(s.cpu)} | ` +
      `${f0(r.rssMb)} | ${f0(s.rssMb)} | ${f1(r.addedMb)} | ${f1(s.addedMb)} |`,
  );
}
console.log(
  '\nspeed ratio = restic wall time ÷ Shipshape wall time (above 1: Shipshape is faster); MB/s of the input dump; CPU = user + sys; RSS = peak resident set (GNU time); added = growth of the repository directory.',
);

// --- targets -------------------------------------------------------------------------------
const datasets = [...new Set(rows.map((row) => row.data))];
const get = (data: string | undefined, step: string) =>
  data === undefined ? undefined : pairs.get(`${data}\u0000${step}`);
const targets: { what: string; goal: string; value: number | undefined; met: boolean }[] = [];
const speed = (data: string | undefined, step: string) => {
  const pair = get(data, step);
  return pair?.restic && pair.shipshape ? pair.restic.wall / pair.shipshape.wall : undefined;
};
const [pgbench, synthetic] = datasets;
for (const [data, goal] of [
  [pgbench, 1.5],
  [synthetic, 3],
] as const) {
  const value = speed(data, 'backup');
  targets.push({
    what: `backup throughput vs restic, ${data ?? '?'}`,
    goal: `≥ ${goal}×`,
    value,
    met: value !== undefined && value >= goal,
  });
}
for (const data of datasets) {
  const value = speed(data, 'restore');
  targets.push({
    what: `restore throughput vs restic (stretch), ${data}`,
    goal: '≥ 2×',
    value,
    met: value !== undefined && value >= 2,
  });
  const re = get(data, 're-backup');
  const added = re?.restic && re.shipshape ? re.shipshape.addedMb / re.restic.addedMb : undefined;
  targets.push({
    what: `bytes added by the re-backup vs restic, ${data}`,
    goal: '≤ 1.1×',
    value: added,
    met: added !== undefined && added <= 1.1,
  });
  const mine = rows.filter((row) => row.data === data && row.tool === 'shipshape');
  const theirs = rows.filter((row) => row.data === data && row.tool === 'restic');
  const peak = (list: Row[]) => Math.max(...list.map((row) => row.rssMb));
  const rss = theirs.length > 0 && mine.length > 0 ? peak(mine) / peak(theirs) : undefined;
  targets.push({
    what: `peak RSS over all steps vs restic, ${data}`,
    goal: '≤ 1×',
    value: rss,
    met: rss !== undefined && rss <= 1,
  });
}
console.log('\n| target | goal | this run | met |');
console.log('| --- | --- | ---: | --- |');
for (const t of targets) {
  console.log(
    `| ${t.what} | ${t.goal} | ${t.value === undefined ? '–' : ratio(t.value)} | ${t.met ? 'yes' : '**no**'} |`,
  );
}
