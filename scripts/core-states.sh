#!/usr/bin/env bash
# What the machine's CPUs run, together, during a benchmark phase: `perf sched record -a` for SECONDS, starting DELAY
# seconds after the harness' redis-server started; then scripts/core-states.py rebuilds each CPU's timeline from
# `perf sched timehist` and prints, for every pair of CPUs' states, the share of the time: D a thread of the harness
# process (silo + client), R redis-server, C its AOF-rewrite child, O anything else, I idle. On two cores, "IR" is Redis
# working while the silo has nothing to do, "DI" the silo working on one core while Redis waits.
# Needs perf (Debian: linux-perf) and root (or kernel.perf_event_paranoid <= 1).
# usage: dotnet build src/OrleansWorker.Silo -c Release && dotnet build tests/OrleansWorker.Benchmarks -c Release &&
#        scripts/core-states.sh [SECONDS=2] [DELAY=10] [-- harness arguments; default: --phases client --n 400000 --warmup 50000]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/harness-redis.sh"
perf_window_start 2 10 --phases client --n 400000 --warmup 50000 -- "$@"
perf sched record -a -o "$OUT/sched.perf" -- sleep "$WINDOW" >/dev/null 2>&1
wait "$RUN"
grep -E '^figure throughput' "$OUT/harness.log" | sort -u
perf sched timehist -i "$OUT/sched.perf" 2>/dev/null | python3 "$ROOT/scripts/core-states.py" "$BPID" "$RPID"
echo "(perf data and the harness' output: $OUT)"
