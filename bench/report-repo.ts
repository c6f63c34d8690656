// Prints the side-by-side table of bench/repo-vs-restic.sh from its TSV results.
import { readFileSync } from 'node:fs';

interface Row {
  data: string;
  tool: string;
  op: string;
  secs: number;
  rssMb: number;
  mb: number;
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: tsx bench/report-repo.ts results.tsv');

const rows: Row[] = readFileSync(file, 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const [data = '', tool = '', op = '', secs = '0', rssKb = '0', bytes = '0'] = line.split('\t');
    return {
      data,
      tool,
      op,
      secs: Number(secs),
      rssMb: Number(rssKb) / 1024,
      mb: Number(bytes) / 1e6,
    };
  });

const groups = new Map<string, Record<string, Row>>();
for (const r of rows) {
  const key = `${r.data} ${r.op}`;
  groups.set(key, { ...groups.get(key), [r.tool]: r });
}

console.log(
  '| data | op | restic s | shipshape s | time ratio | restic MB/s | shipshape MB/s | restic RSS MB | shipshape RSS MB |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const group of groups.values()) {
  const r = group.restic;
  const s = group.shipshape;
  if (!r || !s) continue;
  console.log(
    `| ${r.data} | ${r.op} | ${r.secs.toFixed(2)} | ${s.secs.toFixed(2)} | ${(s.secs / r.secs).toFixed(2)}× | ` +
      `${(r.mb / r.secs).toFixed(0)} | ${(s.mb / s.secs).toFixed(0)} | ${r.rssMb.toFixed(0)} | ${s.rssMb.toFixed(0)} |`,
  );
}
