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
# in the PostgreSQL of scripts/services.sh. Then, the same way:
#
#   mariadb: `mariadb-dump --single-transaction --quick DB > /dev/null` vs `shipshape backup run`
#            (fingerprint off, then counts), and `mariadb DB < dump` vs `shipshape restore`, on a
#            table of $BENCH_MARIADB_ROWS rows (default 10,000,000) in the MariaDB of
#            scripts/services.sh;
#   redis:   `redis-cli --rdb FILE` vs `shipshape backup run` (fingerprint off), and a
#            redis-server started on the RDB answering PING vs `shipshape restore` into an empty
#            server, with $BENCH_REDIS_KEYS keys (default 2,000,000, DEBUG POPULATE, 100-byte
#            values) in a redis-server of the benchmark's own.
#
# Wall time, CPU (user+sys) and peak RSS come from GNU time. Prints a Markdown table with the
# Shipshape/floor ratios (targets: ≤ 1.1×). BENCH_KINDS picks the kinds (default all three).
#
#   npm run bench:datastores                      # full sizes
#   BENCH_SCALE=5 BENCH_MARIADB_ROWS=200000 BENCH_REDIS_KEYS=100000 npm run bench:datastores
#
# Needs GNU time (installed from Debian when missing, which needs root). Work files live in
# $BENCH_DIR (default /var/tmp/shipshape-bench/datastores); the pgbench database is kept between
# runs of the same scale (drop it with `psql … -c 'DROP DATABASE bench_ds_s100'`).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${BENCH_SCALE:-100}
MARIADB_ROWS=${BENCH_MARIADB_ROWS:-10000000}
REDIS_KEYS=${BENCH_REDIS_KEYS:-2000000}
KINDS=${BENCH_KINDS:-postgres mariadb redis}
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
has() { [[ " $KINDS " == *" $1 "* ]]; }

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
work="$BENCH_DIR/demo"
"${SHIPSHAPE[@]}" demo --dir "$work" --json >/dev/null
spec="$work/shipshape.yaml"
(cd "$work" && "${SHIPSHAPE[@]}" repo snapshots --repo local --json >/dev/null 2>&1) ||
  (cd "$work" && "${SHIPSHAPE[@]}" repo init --repo local --json >/dev/null)
# add_store NAME KIND URL FINGERPRINT: a data store in the demo spec, backed up to `local`.
add_store() {
  python3 - "$spec" "$@" <<'PY'
import sys
path, name, kind, url, fingerprint = sys.argv[1:6]
text = open(path).read()
store = (f"  {name}:\n    kind: {kind}\n    connection:\n      production: {url}\n"
         f"    repository: local\n    fingerprint: {fingerprint}\n")
assert 'datastores:\n' in text
open(path, 'w').write(text.replace('datastores:\n', 'datastores:\n' + store, 1))
PY
}

results="$BENCH_DIR/results.tsv"
: >"$results"
# measure 'STEP|TOOL' -- command…: one timed step (GNU time), one TSV row: name wall cpu rss_kb.
measure() {
  local name=$1
  shift 2
  local file=${name//[^a-z]/_}
  local stats="$BENCH_DIR/$file.time"
  log "$name"
  (cd "$work" && /usr/bin/time -f '%e %U %S %M' -o "$stats" "$@" >"$BENCH_DIR/$file.out")
  read -r wall user sys rss <"$stats"
  awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN { printf "%s\t%s\t%.2f\t%s\n", n, w, u + s, r }' >>"$results"
}
notes="$BENCH_DIR/notes.txt"
: >"$notes"
megabytes() { echo $(($(stat -c %s "$1") / 1000000)); }

# --- postgres -----------------------------------------------------------------------------------
if has postgres; then
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
  add_store pgbench postgres "$base/$db" counts
  fresh_pg() { psql "$admin" -qc "DROP DATABASE IF EXISTS $1" -qc "CREATE DATABASE $1" >/dev/null; }

  measure 'postgres backup|floor' -- sh -c "pg_dump -Fc -Z0 '$base/$db' > /dev/null"
  measure 'postgres backup|shipshape' -- "${SHIPSHAPE[@]}" backup run pgbench --env production --json
  pg_dump -Fc -Z0 -f "$BENCH_DIR/pgbench.dump" "$base/$db"
  fresh_pg bench_ds_restore_floor
  measure 'postgres restore|floor' -- pg_restore -j2 --no-owner -d "$base/bench_ds_restore_floor" "$BENCH_DIR/pgbench.dump"
  fresh_pg bench_ds_restore_shipshape
  measure 'postgres restore|shipshape' -- "${SHIPSHAPE[@]}" restore pgbench --env production \
    --to "$base/bench_ds_restore_shipshape" --force --json
  psql "$admin" -qc 'DROP DATABASE bench_ds_restore_floor' -qc 'DROP DATABASE bench_ds_restore_shipshape' >/dev/null
  echo "postgres: pgbench scale $SCALE, dump $(megabytes "$BENCH_DIR/pgbench.dump") MB (pg_dump -Fc -Z0)" >>"$notes"
  rm -f "$BENCH_DIR/pgbench.dump"
fi

# --- mariadb ------------------------------------------------------------------------------------
if has mariadb; then
  murl=$SHIPSHAPE_TEST_MARIADB_URL # mysql://USER@HOST:PORT/DB (the test instance: no password)
  hostport=${murl#*@}
  hostport=${hostport%%/*}
  muser=${murl#*://}
  muser=${muser%%@*}
  mbase=${murl%/*}
  client=(mariadb --no-defaults -h "${hostport%:*}" -P "${hostport#*:}" -u "$muser")
  dumper=(mariadb-dump --no-defaults -h "${hostport%:*}" -P "${hostport#*:}" -u "$muser")
  mdb="bench_ds_m${MARIADB_ROWS}"
  if [ -z "$("${client[@]}" -NBe "SHOW DATABASES LIKE '$mdb'")" ]; then
    log "MariaDB: $MARIADB_ROWS rows into $mdb"
    "${client[@]}" -e "DROP DATABASE IF EXISTS ${mdb}_tmp; CREATE DATABASE ${mdb}_tmp; USE ${mdb}_tmp;
      CREATE TABLE t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(40), c DOUBLE, d DATETIME) ENGINE=InnoDB;
      INSERT INTO t SELECT seq, seq % 1000, MD5(seq), seq / 7, '2026-01-01' + INTERVAL seq SECOND
        FROM seq_1_to_${MARIADB_ROWS};"
    # No RENAME DATABASE in MariaDB: the table moves once it is complete.
    "${client[@]}" -e "CREATE DATABASE $mdb; RENAME TABLE ${mdb}_tmp.t TO $mdb.t; DROP DATABASE ${mdb}_tmp;"
  fi
  add_store maria mariadb "$mbase/$mdb" off
  add_store maria-counts mariadb "$mbase/$mdb" counts
  flags=(--single-transaction --quick --routines --triggers --events --hex-blob)
  measure 'mariadb backup|floor' -- sh -c "$(printf '%q ' "${dumper[@]}" "${flags[@]}" "$mdb") > /dev/null"
  measure 'mariadb backup|shipshape' -- "${SHIPSHAPE[@]}" backup run maria --env production --json
  measure 'mariadb backup, fingerprint counts|shipshape' -- "${SHIPSHAPE[@]}" backup run maria-counts --env production --json
  "${dumper[@]}" "${flags[@]}" "$mdb" >"$BENCH_DIR/maria.sql"
  "${client[@]}" -e "DROP DATABASE IF EXISTS bench_ds_mr_floor; CREATE DATABASE bench_ds_mr_floor;
    DROP DATABASE IF EXISTS bench_ds_mr_shipshape; CREATE DATABASE bench_ds_mr_shipshape;"
  measure 'mariadb restore|floor' -- sh -c "$(printf '%q ' "${client[@]}" bench_ds_mr_floor) < '$BENCH_DIR/maria.sql'"
  measure 'mariadb restore|shipshape' -- "${SHIPSHAPE[@]}" restore maria --env production \
    --to "$mbase/bench_ds_mr_shipshape" --force --json
  "${client[@]}" -e 'DROP DATABASE bench_ds_mr_floor; DROP DATABASE bench_ds_mr_shipshape;'
  echo "mariadb: $MARIADB_ROWS rows, dump $(megabytes "$BENCH_DIR/maria.sql") MB (mariadb-dump --single-transaction --quick)" >>"$notes"
  rm -f "$BENCH_DIR/maria.sql"
fi

# --- redis --------------------------------------------------------------------------------------
if has redis; then
  rdir="$BENCH_DIR/redis"
  mkdir -p "$rdir/src" "$rdir/floor" "$rdir/target"
  start_redis() { # PORT DIR [extra args…]
    local port=$1 dir=$2
    shift 2
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@"
  }
  wait_pong() { until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do sleep 0.02; done; }
  stop_redis() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true; }
  trap 'stop_redis 56390; stop_redis 56391; stop_redis 56392' EXIT
  # Diskless sync without its 5 s delay, so that redis-cli --rdb (the floor) does not wait.
  start_redis 56390 "$rdir/src" --enable-debug-command yes --repl-diskless-sync-delay 0
  wait_pong 56390
  log "Redis: DEBUG POPULATE $REDIS_KEYS"
  redis-cli -p 56390 debug populate "$REDIS_KEYS" key 100 >/dev/null
  add_store cache redis "redis://127.0.0.1:56390" off
  measure 'redis backup|floor' -- redis-cli -p 56390 --rdb "$rdir/floor/dump.rdb"
  measure 'redis backup|shipshape' -- "${SHIPSHAPE[@]}" backup run cache --env production --json
  measure 'redis restore (to a server answering PING)|floor' -- bash -c \
    "$(declare -f start_redis wait_pong); start_redis 56391 '$rdir/floor' --dbfilename dump.rdb; wait_pong 56391"
  start_redis 56392 "$rdir/target"
  wait_pong 56392
  measure 'redis restore (to a server answering PING)|shipshape' -- "${SHIPSHAPE[@]}" restore cache \
    --env production --to "redis://127.0.0.1:56392" --force --json
  echo "redis: $REDIS_KEYS keys (DEBUG POPULATE, 100-byte values), RDB $(megabytes "$rdir/floor/dump.rdb") MB" >>"$notes"
fi

cat "$notes"
echo
awk -F'\t' '
  { split($1, p, "|"); step = p[1]; tool = p[2]
    if (!(step in seen)) { seen[step] = 1; order[++n] = step }
    wall[step, tool] = $2; cpu[step, tool] = $3; rss[step, tool] = $4 }
  END {
    print "| step | floor wall s | Shipshape wall s | ratio | target | floor CPU s | Shipshape CPU s | Shipshape peak RSS MB |"
    print "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |"
    for (i = 1; i <= n; i++) {
      s = order[i]
      if ((s, "floor") in wall) {
        printf "| %s | %.2f | %.2f | %.2f× | ≤ 1.1× | %.2f | %.2f | %.0f |\n", s, wall[s, "floor"], wall[s, "shipshape"], wall[s, "shipshape"] / wall[s, "floor"], cpu[s, "floor"], cpu[s, "shipshape"], rss[s, "shipshape"] / 1024
      } else {
        printf "| %s | – | %.2f | – | – | – | %.2f | %.0f |\n", s, wall[s, "shipshape"], cpu[s, "shipshape"], rss[s, "shipshape"] / 1024
      }
    }
  }' "$results"
