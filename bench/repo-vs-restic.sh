#!/usr/bin/env bash
# Shipshape's repository vs restic, on this machine, in one run, on the same data:
#
#   (a) a pgbench database (`pgbench -i -s $BENCH_SCALE`, default 100) dumped with
#       `pg_dump -Fc -Z0` (≈ 1 GB at scale 100), then re-dumped after 1,000 seeded pgbench
#       transactions;
#   (b) a poorly compressible dump-like file of $BENCH_MB MiB (default 1024; seeded rows of
#       random base64 and numbers, bench/synthetic-dump.ts), then the same file with 1,000
#       scattered 16-byte edits and 10 inserted 4 KiB blocks (seeded);
#
# and for each: backup, re-backup of the changed dump, full restore of it, and
# `check --read-data`, measuring wall time, CPU (user+sys) and peak RSS with GNU time, and the
# bytes each step adds to the repository. Prints Markdown tables (bench/report-repo.ts) with the
# Shipshape/restic ratios and the targets; then a CPU profile of Shipshape's backup of (b)
# (bench/profile-summary.ts), unless BENCH_PROFILE=0.
#
#   npm run bench:repo                               # the full sizes
#   BENCH_SCALE=5 BENCH_MB=64 npm run bench:repo     # a quick run (about a minute)
#
# Needs restic and GNU time (installed from Debian when missing, which needs root) and the
# PostgreSQL of scripts/services.sh. Data sets live in $BENCH_DIR (default
# /var/tmp/shipshape-bench) and are reused by later runs of the same sizes and seed.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/shipshape-bench}
SCALE=${BENCH_SCALE:-100}
MB=${BENCH_MB:-1024}
SEED=${BENCH_SEED:-42}
PROFILE=${BENCH_PROFILE:-1}
SHIPSHAPE=(node bin/shipshape.js)
export SHIPSHAPE_REPO_PASSWORD=bench-password-not-secret RESTIC_PASSWORD=bench-password-not-secret

need() { command -v "$1" >/dev/null 2>&1; }
if ! need restic || [ ! -x /usr/bin/time ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic time >/dev/null
fi
[ -f dist/cli/main.js ] || npm run build >/dev/null
mkdir -p "$BENCH_DIR"
log() { printf '[bench] %s\n' "$*" >&2; }

# --- data sets --------------------------------------------------------------------------------
pg_v1="$BENCH_DIR/pgbench-s${SCALE}-seed${SEED}.v1.dump"
pg_v2="$BENCH_DIR/pgbench-s${SCALE}-seed${SEED}.v2.dump"
syn_v1="$BENCH_DIR/synthetic-${MB}m-seed${SEED}.v1.tsv"
syn_v2="$BENCH_DIR/synthetic-${MB}m-seed${SEED}.v2.tsv"
if [ ! -s "$pg_v2" ]; then
  log "pgbench -i -s $SCALE, pg_dump -Fc -Z0, 1,000 transactions, pg_dump again"
  bash scripts/services.sh up >/dev/null
  # shellcheck disable=SC1091
  source "${SHIPSHAPE_SERVICES_DIR:-/var/tmp/shipshape-services}/env"
  db="bench_$$"
  psql "$SHIPSHAPE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
  url="${SHIPSHAPE_TEST_POSTGRES_URL%/*}/$db"
  pgbench -q -i -s "$SCALE" "$url" >/dev/null 2>&1
  pg_dump -Fc -Z0 --no-owner -f "$pg_v1.tmp" "$url"
  # One client, 1,000 TPC-B-like transactions, seeded: the same accounts change every run.
  pgbench -n -c 1 -t 1000 --random-seed="$SEED" "$url" >/dev/null 2>&1
  pg_dump -Fc -Z0 --no-owner -f "$pg_v2.tmp" "$url"
  psql "$SHIPSHAPE_TEST_POSTGRES_URL" -qc "DROP DATABASE $db" >/dev/null
  mv "$pg_v1.tmp" "$pg_v1"
  mv "$pg_v2.tmp" "$pg_v2"
fi
if [ ! -s "$syn_v2" ]; then
  log "synthetic dump, $MB MiB, seed $SEED, and its seeded change"
  npx tsx bench/synthetic-dump.ts generate "$syn_v1.tmp" "$MB" "$SEED"
  npx tsx bench/synthetic-dump.ts change "$syn_v1.tmp" "$syn_v2.tmp" "$SEED"
  mv "$syn_v1.tmp" "$syn_v1"
  mv "$syn_v2.tmp" "$syn_v2"
fi

# --- measurement ------------------------------------------------------------------------------
results="$BENCH_DIR/results.tsv"
: >"$results"
repo_bytes() { du -sb "$1" | cut -f1; }

# measure DATA STEP TOOL REPO INPUT_BYTES -- command…: one timed step, one TSV row.
measure() {
  local data=$1 step=$2 tool=$3 repo=$4 input=$5
  shift 6
  sync
  local before after timing="$BENCH_DIR/last.time"
  before=$(repo_bytes "$repo")
  log "$tool $step ($data)"
  if ! /usr/bin/time -f '%e %U %S %M' -o "$timing" "$@" >/dev/null 2>"$BENCH_DIR/last.err"; then
    echo "$tool $step on $data failed:" >&2
    cat "$BENCH_DIR/last.err" >&2
    exit 1
  fi
  after=$(repo_bytes "$repo")
  local wall user sys rss
  read -r wall user sys rss < <(tail -1 "$timing")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$data" "$step" "$tool" "$wall" "$user" "$sys" \
    "$rss" "$input" "$((after - before))" >>"$results"
}

run_pair() { # LABEL V1 V2
  local label=$1 v1=$2 v2=$3
  local restic_repo="$BENCH_DIR/restic-repo" ship_repo="$BENCH_DIR/shipshape-repo"
  local s1 s2
  s1=$(stat -c %s "$v1")
  s2=$(stat -c %s "$v2")
  rm -rf "$restic_repo" "$ship_repo"
  restic init --repo "$restic_repo" >/dev/null
  "${SHIPSHAPE[@]}" repo init --repo "$ship_repo" >/dev/null

  measure "$label" backup restic "$restic_repo" "$s1" -- \
    sh -c "restic backup --repo '$restic_repo' --stdin --stdin-filename dump < '$v1'"
  measure "$label" backup shipshape "$ship_repo" "$s1" -- \
    sh -c "${SHIPSHAPE[*]} repo backup --repo '$ship_repo' - < '$v1'"
  measure "$label" re-backup restic "$restic_repo" "$s2" -- \
    sh -c "restic backup --repo '$restic_repo' --stdin --stdin-filename dump < '$v2'"
  measure "$label" re-backup shipshape "$ship_repo" "$s2" -- \
    sh -c "${SHIPSHAPE[*]} repo backup --repo '$ship_repo' - < '$v2'"
  measure "$label" restore restic "$restic_repo" "$s2" -- \
    sh -c "restic dump --repo '$restic_repo' latest dump > /dev/null"
  measure "$label" restore shipshape "$ship_repo" "$s2" -- \
    sh -c "${SHIPSHAPE[*]} repo restore latest --repo '$ship_repo' --stdout > /dev/null"
  measure "$label" check restic "$restic_repo" "$s2" -- \
    restic check --repo "$restic_repo" --read-data
  measure "$label" check shipshape "$ship_repo" "$s2" -- \
    "${SHIPSHAPE[@]}" repo check --repo "$ship_repo" --read-data

  # Not timed: the restore gives back exactly the second dump.
  if ! "${SHIPSHAPE[@]}" repo restore latest --repo "$ship_repo" --stdout | cmp -s - "$v2"; then
    echo "shipshape restore of $label differs from $v2" >&2
    exit 1
  fi
}

pg_label="pgbench -s $SCALE, pg_dump -Fc -Z0 ($(($(stat -c %s "$pg_v1") / 1000000)) MB)"
syn_label="synthetic, poorly compressible ($(($(stat -c %s "$syn_v1") / 1000000)) MB)"
run_pair "$pg_label" "$pg_v1" "$pg_v2"
run_pair "$syn_label" "$syn_v1" "$syn_v2"

echo "restic $(restic version | cut -d' ' -f2), node $(node --version), $(nproc) cores, $(uname -sr)"
echo
npx tsx bench/report-repo.ts "$results"

# --- where Shipshape's backup time goes -------------------------------------------------------
if [ "$PROFILE" = 1 ]; then
  prof="$BENCH_DIR/profile"
  rm -rf "$prof" "$BENCH_DIR/profile-repo"
  "${SHIPSHAPE[@]}" repo init --repo "$BENCH_DIR/profile-repo" >/dev/null
  log "profiling shipshape backup ($syn_label)"
  node --cpu-prof --cpu-prof-dir="$prof" bin/shipshape.js repo backup \
    --repo "$BENCH_DIR/profile-repo" - <"$syn_v1" >/dev/null
  echo
  echo "CPU profile of \`shipshape repo backup\` of $syn_label (node --cpu-prof; one table per thread):"
  npx tsx bench/profile-summary.ts --top 12 "$prof"/*.cpuprofile
fi
