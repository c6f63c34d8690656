#!/usr/bin/env bash
# A DR drill's RTO against the same recovery done by hand, on this machine, in one run:
#
#   hand-run: the restores an operator would type, one after the other, timed end to end —
#             `createdb` + `pg_restore -j2` of a `pg_dump -Fc -Z0` file (made beforehand, not
#             timed) into the PostgreSQL of scripts/services.sh, then `cp dump.rdb` +
#             `redis-server` on it until `redis-cli ping` answers PONG and INFO says loading:0;
#   drill:    `shipshape drill run --json` restoring both data stores from the repository into
#             sandboxes in parallel (fetch + decrypt, a fresh initdb cluster + pg_restore -j2, a
#             redis-server on the RDB), each fingerprint verified, then torn down and recorded.
#
# Data: `pgbench -i -s $SCALE` (default 100, ≈ 1 GB dumped) and $KEYS Redis keys (default
# 2,000,000) loaded with `redis-cli --pipe` as `SET session:<n> <≈ 60-byte JSON>` into a
# redis-server of the benchmark's own. Both are backed up with `shipshape backup run` into a
# local repository first (a spec the script writes; not timed).
#
# Prints the figures and a Markdown table: drill RTO (`rtoMs` from its JSON) and wall time vs
# the hand-run sequence, the per-store phases, and the orchestration overhead, defined as
#   overhead = drill wall time − max over stores of (fetch + restore)
# i.e. everything the drill does beyond its slowest restore: process start, planning, the
# fingerprint verification, teardown and the evidence record (docs/benchmarks.md § DR drill).
# Targets (issue 8): RTO ≤ hand-run sequence; overhead < 5 %.
#
#   npm run bench:drill                       # full size
#   SCALE=5 KEYS=100000 npm run bench:drill   # quick
#
# BENCH_SCALE / BENCH_REDIS_KEYS are accepted too (as in bench/datastores.sh). Needs GNU time
# (installed from Debian when missing, which needs root). Work files live in $BENCH_DIR (default
# /var/tmp/shipshape-bench/drill); the pgbench database is kept between runs of the same scale
# (drop it with `psql … -c 'DROP DATABASE bench_drill_s100'`).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${SCALE:-${BENCH_SCALE:-100}}
KEYS=${KEYS:-${BENCH_REDIS_KEYS:-2000000}}
BENCH_DIR=${BENCH_DIR:-/var/tmp/shipshape-bench/drill}
REDIS_PORT=${BENCH_REDIS_PORT:-56395}
HAND_REDIS_PORT=$((REDIS_PORT + 1))
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
db="bench_drill_s${SCALE}"
hand_db=bench_drill_hand

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/redis/src" "$BENCH_DIR/redis/hand" "$BENCH_DIR/work"

# --- Redis: a server of our own, loaded with --pipe ---------------------------------------------
start_redis() { # PORT DIR [extra args…]
  local port=$1 dir=$2
  shift 2
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@"
}
stop_redis() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true; }
cleanup() {
  stop_redis "$REDIS_PORT"
  stop_redis "$HAND_REDIS_PORT"
  psql "$admin" -qc "DROP DATABASE IF EXISTS $hand_db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
# Diskless sync without its 5 s delay: the backup fetches the RDB over replication.
start_redis "$REDIS_PORT" "$BENCH_DIR/redis/src" --repl-diskless-sync-delay 0
until [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do sleep 0.05; done
log "Redis: $KEYS keys through redis-cli --pipe"
awk -v n="$KEYS" 'BEGIN {
  for (i = 1; i <= n; i++) {
    k = "session:" i
    v = sprintf("{\"user\":%d,\"cart\":[%d,%d],\"seen\":\"2026-11-%02dT%02d:%02d:00Z\"}",
      i * 7 % 100000, i % 977, i % 61, i % 28 + 1, i % 24, i % 60)
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
  }
}' | redis-cli -p "$REDIS_PORT" --pipe >/dev/null
[ "$(redis-cli -p "$REDIS_PORT" dbsize)" = "$KEYS" ] || {
  log "Redis holds $(redis-cli -p "$REDIS_PORT" dbsize) keys, expected $KEYS"
  exit 3
}

# --- PostgreSQL: pgbench, kept between runs of the same scale -----------------------------------
if [ "$(psql "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  log "pgbench -i -s $SCALE into $db"
  psql "$admin" -qc "DROP DATABASE IF EXISTS ${db}_tmp" -qc "CREATE DATABASE ${db}_tmp" >/dev/null
  pgbench -q -i -s "$SCALE" "$base/${db}_tmp" >/dev/null 2>&1
  psql "$admin" -qc "ALTER DATABASE ${db}_tmp RENAME TO $db" >/dev/null
fi
psql "$base/$db" -qc 'VACUUM ANALYZE' >/dev/null

# --- the workspace: a spec of the script's own, a local repository ------------------------------
work="$BENCH_DIR/work"
head -c 32 /dev/urandom | base64 >"$work/repository.key"
chmod 600 "$work/repository.key"
cat >"$work/shipshape.yaml" <<YAML
version: 1
service:
  name: bench-drill
people:
  bench:
    name: Benchmark
    os_users: ["$(id -un)"]
roles:
  admin: [bench]
  sre-lead: [bench]
environments:
  production: {}
repositories:
  local:
    url: repository
    key: \${file:repository.key}
datastores:
  pgbench:
    kind: postgres
    connection:
      production: $base/$db
    repository: local
    fingerprint: counts
  sessions:
    kind: redis
    connection:
      production: redis://127.0.0.1:$REDIS_PORT
    repository: local
    fingerprint: counts
YAML
(cd "$work" && "${SHIPSHAPE[@]}" repo init --repo local --json >/dev/null)
log "shipshape backup run pgbench sessions"
(cd "$work" && "${SHIPSHAPE[@]}" backup run pgbench sessions --env production --json >"$BENCH_DIR/backup.json")

# The hand-run's inputs, made beforehand and not timed: the dump file and the RDB.
pg_dump -Fc -Z0 -f "$BENCH_DIR/pgbench.dump" "$base/$db"
redis-cli -p "$REDIS_PORT" --rdb "$BENCH_DIR/redis/dump.rdb" >/dev/null 2>&1

# --- (a) the hand-run sequence -------------------------------------------------------------------
cat >"$BENCH_DIR/hand-run.sh" <<SH
set -euo pipefail
$(declare -f start_redis)
psql '$admin' -qc 'DROP DATABASE IF EXISTS $hand_db' >/dev/null
date +%s.%N >'$BENCH_DIR/hand.marks'
createdb --maintenance-db='$admin' $hand_db
pg_restore -j2 --no-owner -d '$base/$hand_db' '$BENCH_DIR/pgbench.dump'
date +%s.%N >>'$BENCH_DIR/hand.marks'
cp '$BENCH_DIR/redis/dump.rdb' '$BENCH_DIR/redis/hand/dump.rdb'
start_redis $HAND_REDIS_PORT '$BENCH_DIR/redis/hand' --dbfilename dump.rdb
until [ "\$(redis-cli -p $HAND_REDIS_PORT ping 2>/dev/null)" = PONG ] &&
  redis-cli -p $HAND_REDIS_PORT info persistence 2>/dev/null | grep -q '^loading:0'; do sleep 0.02; done
date +%s.%N >>'$BENCH_DIR/hand.marks'
SH
sync
log "(a) hand-run: createdb + pg_restore -j2, then redis-server on the RDB"
/usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/hand.time" bash "$BENCH_DIR/hand-run.sh"
read -r hand_wall hand_user hand_sys _ <"$BENCH_DIR/hand.time"
hand_keys=$(redis-cli -p "$HAND_REDIS_PORT" dbsize)
hand_rows=$(psql "$base/$hand_db" -tAc 'SELECT count(*) FROM pgbench_accounts')
# The two halves of the hand-run (the drop before the first mark is not timed by the marks).
hand_split=$(awk 'NR == 1 { a = $1 } NR == 2 { b = $1 } NR == 3 { c = $1 }
  END { printf "postgres %.2f s, then redis %.2f s", b - a, c - b }' "$BENCH_DIR/hand.marks")
cleanup

# --- (b) the drill ------------------------------------------------------------------------------
load=$(cut -d' ' -f1-3 /proc/loadavg)
log "(b) shipshape drill run --json"
set +e
(cd "$work" && /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/drill.time" \
  "${SHIPSHAPE[@]}" drill run --json >"$BENCH_DIR/drill.json" 2>"$BENCH_DIR/drill.err")
drill_exit=$?
set -e
read -r drill_wall drill_user drill_sys drill_rss <"$BENCH_DIR/drill.time"
if ! jq -e '.plan.id' "$BENCH_DIR/drill.json" >/dev/null 2>&1; then
  log "drill run exited $drill_exit without a result:"
  cat "$BENCH_DIR/drill.json" "$BENCH_DIR/drill.err" >&2
  exit 3
fi

# --- results ------------------------------------------------------------------------------------
megabytes() { echo $(($(stat -c %s "$1") / 1000000)); }
echo "pgbench scale $SCALE ($hand_rows accounts), dump $(megabytes "$BENCH_DIR/pgbench.dump") MB (pg_dump -Fc -Z0);" \
  "Redis $KEYS keys ($hand_keys loaded by hand), RDB $(megabytes "$BENCH_DIR/redis/dump.rdb") MB;" \
  "$(nproc) CPUs; $(psql --version | head -1); $(redis-server --version | cut -d' ' -f1-3)"
echo "load average before the drill: $load"
echo "drill $(jq -r '.plan.id' "$BENCH_DIR/drill.json"): verdict $(jq -r '.verdict' "$BENCH_DIR/drill.json"), exit $drill_exit"
jq -r '.reasons[] | "  reason: " + .' "$BENCH_DIR/drill.json"
echo
jq -r --arg hw "$hand_wall" --arg hc "$(awk -v u="$hand_user" -v s="$hand_sys" 'BEGIN { print u + s }')" \
  --arg dw "$drill_wall" --arg dc "$(awk -v u="$drill_user" -v s="$drill_sys" 'BEGIN { print u + s }')" \
  --arg drss "$drill_rss" --arg split "$hand_split" '
  def s: . / 1000 | . * 100 | round / 100;
  def ph($p): [.phases[] | select(.phase == $p) | .durationMs] | add // 0;
  ($hw | tonumber) as $hand | ($dw | tonumber) as $wall |
  (.rtoMs | if . == null then null else s end) as $rto |
  ([.datastores[] | (ph("fetch") + ph("restore"))] | max | s) as $crit |
  ($wall - $crit) as $over |
  "| measurement | seconds | notes |",
  "| --- | ---: | --- |",
  "| hand-run sequence (createdb + pg_restore -j2, then redis-server on the RDB) | \($hand) | \($split); CPU \($hc) s |",
  "| drill RTO (`rtoMs`: declared → every store restored and verified) | \($rto // "–") | ratio to hand-run \(if $rto == null then "–" else ($rto / $hand * 100 | round / 100 | tostring) + "×" end) (target ≤ 1×) |",
  "| drill wall time (`drill run`, process start to exit) | \($wall) | CPU \($dc) s, peak RSS \(($drss | tonumber) / 1024 | round) MB |",
  "| critical path: max over stores of fetch + restore | \($crit) | |",
  "| orchestration overhead = wall − critical path | \($over * 100 | round / 100) | \($over / $wall * 1000 | round / 10) % of wall (target < 5 %) |",
  "",
  "| store | MB | repository open s | fetch s | restore s | verify s | checks s | recovered at s | teardown s |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  # The snapshot is read from the plan: the result shares it with the plan.
  (.plan.datastores | map({ (.name): .snapshot.bytes }) | add) as $bytes |
  (.datastores[] |
    ([.phases[] | select(.phase == "restore") | .startMs] | min) as $begin |
    ([.phases[] | select(.phase == "fetch") | .startMs] | min) as $first |
    "| \(.name) | \($bytes[.name] / 1000000 | round) | \(if $first == null or $begin == null then "–" else ($begin - $first) | s end) | \(ph("fetch") | s) | \(ph("restore") | s) | \(ph("verify") | s) | \(ph("checks") | s) | \(.recoveredMs | if . == null then "–" else s end) | \(ph("teardown") | s) |"),
  "",
  "elapsed (declared → torn down): \(.elapsedMs | s) s; outside the stopwatch (process start, planning, evidence): \(($wall - (.elapsedMs / 1000)) * 100 | round / 100) s"
' "$BENCH_DIR/drill.json"
