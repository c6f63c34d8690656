#!/usr/bin/env bash
# Backs up and restores the same dumps with restic and with `shipshape repo`, on this machine, in
# one run, and prints wall time, throughput and peak RSS side by side with ratios.
#
#   npm run bench:repo                       # 1 GB pgbench-like dump + 1 GB poorly compressible dump
#   BENCH_SIZE_MB=256 npm run bench:repo     # smaller, for a quick look
#
# Needs root once to apt-get install restic and GNU time; uses the PostgreSQL of
# scripts/services.sh for the pgbench dump. Data lives in $BENCH_DIR (default
# /var/tmp/shipshape-bench) and is reused between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-/var/tmp/shipshape-bench}
SIZE_MB=${BENCH_SIZE_MB:-1024}
SHIPSHAPE=(node bin/shipshape.js)
export SHIPSHAPE_REPO_PASSWORD=bench-password-not-secret RESTIC_PASSWORD=bench-password-not-secret

need() { command -v "$1" >/dev/null 2>&1; }
if ! need restic || [ ! -x /usr/bin/time ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic time >/dev/null
fi
mkdir -p "$BENCH_DIR"

# --- data sets --------------------------------------------------------------------------------
pg_dump_file="$BENCH_DIR/pgbench-${SIZE_MB}m.sql"
random_file="$BENCH_DIR/random-${SIZE_MB}m.bin"
if [ ! -s "$pg_dump_file" ]; then
  bash scripts/services.sh up >/dev/null
  # shellcheck disable=SC1091
  source "${SHIPSHAPE_SERVICES_DIR:-/var/tmp/shipshape-services}/env"
  db="bench_$$"
  psql "$SHIPSHAPE_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
  url="${SHIPSHAPE_TEST_POSTGRES_URL%/*}/$db"
  # pgbench scale 1 ≈ 9.8 MB of plain dump (100k accounts); scale to the requested size.
  scale=$(( SIZE_MB / 9 + 1 ))
  pgbench -q -i -s "$scale" "$url" >/dev/null 2>&1
  pg_dump --no-owner "$url" | head -c "$((SIZE_MB * 1024 * 1024))" >"$pg_dump_file"
  psql "$SHIPSHAPE_TEST_POSTGRES_URL" -qc "DROP DATABASE $db" >/dev/null
fi
if [ ! -s "$random_file" ]; then
  # Poorly compressible: random bytes (a dump of encrypted or already-compressed columns).
  head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$random_file"
fi

# --- measurement ------------------------------------------------------------------------------
results="$BENCH_DIR/results.tsv"
: >"$results"
: >"$BENCH_DIR/sizes.tsv"
measure() { # label tool op file -- command…
  local label=$1 tool=$2 op=$3 file=$4
  shift 5
  sync
  local timing="$BENCH_DIR/last.time"
  if ! /usr/bin/time -f '%e %M' -o "$timing" "$@" >/dev/null 2>"$BENCH_DIR/last.err"; then
    echo "$tool $op on $label failed:" >&2
    cat "$BENCH_DIR/last.err" >&2
    exit 1
  fi
  local out
  out=$(tail -1 "$timing")
  local secs=${out% *} rss_kb=${out#* }
  local bytes
  bytes=$(stat -c %s "$file")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$tool" "$op" "$secs" "$rss_kb" "$bytes" >>"$results"
}

for data in "$pg_dump_file" "$random_file"; do
  label=$(basename "$data")
  restic_repo="$BENCH_DIR/restic-repo"
  ship_repo="$BENCH_DIR/shipshape-repo"
  rm -rf "$restic_repo" "$ship_repo"
  restic init --repo "$restic_repo" >/dev/null
  "${SHIPSHAPE[@]}" repo init --repo "$ship_repo" >/dev/null

  measure "$label" restic backup "$data" -- sh -c "restic backup --repo '$restic_repo' --stdin --stdin-filename dump < '$data'"
  measure "$label" shipshape backup "$data" -- sh -c "${SHIPSHAPE[*]} repo backup --repo '$ship_repo' - < '$data'"
  measure "$label" restic restore "$data" -- sh -c "restic dump --repo '$restic_repo' latest dump > /dev/null"
  measure "$label" shipshape restore "$data" -- sh -c "${SHIPSHAPE[*]} repo restore latest --repo '$ship_repo' --stdout > /dev/null"
  du -sb "$restic_repo" "$ship_repo" | awk -v l="$label" '{ printf "%s\tsize\t%s\t%s\n", l, $2, $1 }' >>"$BENCH_DIR/sizes.tsv"
done

npx tsx bench/report-repo.ts "$results"
echo
echo '| data | restic repository bytes | shipshape repository bytes |'
echo '| --- | ---: | ---: |'
paste - - <"$BENCH_DIR/sizes.tsv" | awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $4, $8 }'
