#!/usr/bin/env bash
# Shipshape's PostgreSQL data-store backup and restore against their floors, on this machine,
# in one run, on the same database:
#
#   backup:  `pg_dump -Fc -Z0 DB > /dev/null` (the floor: the dump alone, nothing stored)
#            vs `shipshape backup run pgbench` (the same dump under an exported snapshot, the
#            fingerprint in that snapshot, streamed into the repository: chunked, deduplicated,
#            compressed, encrypted, plus the evidence record)
#   restore: `pg_restore -j2` of a dump file into an empty database
#            vs `shipshape restore pgbench --to … --force` (fetch + decrypt from the repository,
#            pg_restore -j2, fingerprint verification, evidence)
#
# The database is `pgbench -i -s $BENCH_SCALE` (default 100, ≈ 1.5 GB on disk, ≈ 1 GB dumped)
# in the PostgreSQL of scripts/services.sh. Wall time, CPU (user+sys) and peak RSS come from GNU
# time. Prints a Markdown table with the Shipshape/floor ratios (targets: backup ≤ 1.1×,
# restore ≤ 1.1×).
#
#   npm run bench:datastores                      # scale 100
#   BENCH_SCALE=5 npm run bench:datastores        # a quick run
#
# Needs GNU time (installed from Debian when missing, which needs root). Work files live in
# $BENCH_DIR (default /var/tmp/shipshape-bench/datastores); the pgbench database is kept between
# runs of the same scale (drop it with `psql … -c 'DROP DATABASE bench_ds_s100'`).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${BENCH_SCALE:-100}
BENCH_DIR=${BENCH_DIR:-/var/tmp/shipshape-bench/datastores}
SHIPSHAPE=(node "$PWD/bin/shipshape.js")

if [ ! -x /usr/bin/time ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
[ -f dist/cli/main.js ] || npm run build >/dev/null
log() { printf '[bench] %s\n' "$*" >&2; }

bash scripts/services.sh up >/dev/null
# shellcheck disable=SC1091
source "${SHIPSHAPE_SERVICES_DIR:-/var/tmp/shipshape-services}/env"
export PGOPTIONS="-c client_min_messages=warning"
admin=$SHIPSHAPE_TEST_POSTGRES_URL
base=${admin%/*}
db="bench_ds_s${SCALE}"
if [ "$(psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  log "pgbench -i -s $SCALE into $db"
  psql "$admin" -qc "CREATE DATABASE ${db}_tmp" >/dev/null
  pgbench -q -i -s "$SCALE" "$base/${db}_tmp" >/dev/null 2>&1
  psql "$admin" -qc "ALTER DATABASE ${db}_tmp RENAME TO $db" >/dev/null
fi
psql "$base/$db" -qc 'VACUUM ANALYZE' >/dev/null

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
work="$BENCH_DIR/demo"
"${SHIPSHAPE[@]}" demo --dir "$work" --json >/dev/null
spec="$work/shipshape.yaml"
# The demo spec's repository `local`, plus the pgbench database as a data store.
python3 - "$spec" "$base/$db" <<'EOF'
import sys
path, url = sys.argv[1], sys.argv[2]
text = open(path).read()
store = f"  pgbench:\n    kind: postgres\n    connection:\n      production: {url}\n    repository: local\n"
assert 'datastores:\n' in text
open(path, 'w').write(text.replace('datastores:\n', 'datastores:\n' + store, 1))
EOF
(cd "$work" && "${SHIPSHAPE[@]}" repo snapshots --repo local --json >/dev/null 2>&1) ||
  (cd "$work" && "${SHIPSHAPE[@]}" repo init --repo local --json >/dev/null)

results="$BENCH_DIR/results.tsv"
: >"$results"
# measure NAME -- command…: one timed step (GNU time), one TSV row: name wall cpu rss_kb.
measure() {
  local name=$1
  shift 2
  local stats="$BENCH_DIR/$name.time"
  log "$name"
  (cd "$work" && /usr/bin/time -f '%e %U %S %M' -o "$stats" "$@" >"$BENCH_DIR/$name.out")
  read -r wall user sys rss <"$stats"
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN { printf "%s\t%s\t%.2f\t%s\n", n, w, u + s, r }' >>"$results"
}
fresh_db() {
  psql "$admin" -qc "DROP DATABASE IF EXISTS $1" -qc "CREATE DATABASE $1" >/dev/null
}

measure floor-backup -- sh -c "pg_dump -Fc -Z0 '$base/$db' > /dev/null"
measure shipshape-backup -- "${SHIPSHAPE[@]}" backup run pgbench --env production --json
pg_dump -Fc -Z0 -f "$BENCH_DIR/pgbench.dump" "$base/$db"
fresh_db bench_ds_restore_floor
measure floor-restore -- pg_restore -j2 --no-owner -d "$base/bench_ds_restore_floor" "$BENCH_DIR/pgbench.dump"
fresh_db bench_ds_restore_shipshape
measure shipshape-restore -- "${SHIPSHAPE[@]}" restore pgbench --env production \
  --to "$base/bench_ds_restore_shipshape" --force --json
psql "$admin" -qc 'DROP DATABASE bench_ds_restore_floor' -qc 'DROP DATABASE bench_ds_restore_shipshape' >/dev/null
rm -f "$BENCH_DIR/pgbench.dump"

dump_bytes=$(pg_dump -Fc -Z0 "$base/$db" | wc -c)
awk -F'\t' -v scale="$SCALE" -v bytes="$dump_bytes" '
  { wall[$1] = $2; cpu[$1] = $3; rss[$1] = $4 }
  END {
    printf "pgbench scale %d, dump %.0f MB (pg_dump -Fc -Z0)\n\n", scale, bytes / 1e6
    print "| step | floor wall s | Shipshape wall s | ratio | target | floor CPU s | Shipshape CPU s | Shipshape peak RSS MB |"
    print "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    n = split("backup restore", steps, " ")
    for (i = 1; i <= n; i++) {
      s = steps[i]; f = "floor-" s; h = "shipshape-" s
      printf "| %s | %.2f | %.2f | %.2f× | ≤ 1.1× | %.2f | %.2f | %.0f |\n", s, wall[f], wall[h], wall[h] / wall[f], cpu[f], cpu[h], rss[h] / 1024
    }
  }' "$results"
