#!/usr/bin/env bash
# Where redis-server's CPU goes during a benchmark phase: perf records the harness' redis-server (and the AOF-rewrite
# child it forks) with dwarf call stacks for SECONDS, starting DELAY seconds after the server started, and
# scripts/redis-profile.py puts each sample in a bucket: the commands scripts call, the Lua interpreter, KEYS/ARGV into
# Lua, replies into Lua, the AOF (formatting, write, the rewrite child), the network, ...
# Needs perf (Debian: linux-perf) and root (or kernel.perf_event_paranoid <= 1).
# usage: dotnet build src/OrleansWorker.Silo -c Release && dotnet build tests/OrleansWorker.Benchmarks -c Release &&
#        scripts/redis-profile.sh [SECONDS=20] [DELAY=3] [-- harness arguments; default: --phases client --n 100000 --warmup 50000]
#   e.g. scripts/redis-profile.sh 20 3 -- --phases bullmq --n 100000 --warmup 50000      (BullMQ's Redis, the same way)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/harness-redis.sh"
perf_window_start 20 3 --phases client --n 100000 --warmup 50000 -- "$@"
perf record -q -F 499 --call-graph dwarf,16384 -p "$RPID" -o "$OUT/redis.perf" -- sleep "$WINDOW" 2>/dev/null
wait "$RUN"
grep -E '^figure .*(jobs_per_second|redis)' "$OUT/harness.log" | sort -u
perf script -i "$OUT/redis.perf" -F pid,tid,comm,ip,sym 2>/dev/null | python3 "$ROOT/scripts/redis-profile.py" "$RPID"
echo "(perf data and the harness' output: $OUT)"
