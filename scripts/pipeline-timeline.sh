#!/usr/bin/env bash
# Where the time of the benchmark's `client` phase goes, over time. Every 0.2 s: jobs Succeeded and jobs ready (ZCARD of
# the two sorted sets, O(1)), and the CPU of redis-server and of the harness process (silo + client) in that interval.
# Then, for the batch part (N jobs in batches of 500, 8 in flight), jobs/s and CPU while submissions still arrive
# ("submitting": up to the largest backlog) and after ("draining").
# usage: dotnet build src/OrleansWorker.Silo -c Release && dotnet build tests/OrleansWorker.Benchmarks -c Release &&
#        scripts/pipeline-timeline.sh [N=100000] [WARMUP=30000]      (CPU in % of one core; 200 % = both cores here)
set -uo pipefail
N=${1:-100000}; W=${2:-30000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp)
. "$ROOT/scripts/harness-redis.sh"
start_harness "$OUT.log" --phases client --n "$N" --warmup "$W"
# redis-server sets its process title to "redis-server 127.0.0.1:<port>".
PORT=$(tr '\0' ' ' < "/proc/$RPID/cmdline" | grep -o ':[0-9][0-9]*' | tail -1 | tr -d :)
cpu() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null; }
FK=""; RK=""
while kill -0 "$RPID" 2>/dev/null; do
  [ -z "$FK" ] && FK=$(redis-cli -p "$PORT" --scan --pattern '*:f:Succeeded:*' 2>/dev/null | head -1)
  [ -z "$RK" ] && RK=$(redis-cli -p "$PORT" --scan --pattern '*:r:*' 2>/dev/null | head -1)
  echo "$(date +%s.%N) $(redis-cli -p "$PORT" zcard "${FK:-none}" 2>/dev/null || echo 0) $(redis-cli -p "$PORT" zcard "${RK:-none}" 2>/dev/null || echo 0) $(cpu "$RPID") $(cpu "$BPID")" >> "$OUT"
  sleep 0.2
done
wait "$RUN"
grep "^figure throughput_client_batch" "$OUT.log" | head -1
python3 - "$OUT" "$N" "$W" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 5 and all(x.replace('.', '').isdigit() for x in p):
        rows.append((float(p[0]), int(p[1]), int(p[2]), int(p[3]), int(p[4])))
n, w = int(sys.argv[2]), int(sys.argv[3])
start = next(i for i, r in enumerate(rows) if r[1] >= 2 * w)          # the warm-up (batches, then one by one) is done
end = next(i for i, r in enumerate(rows) if r[1] >= 2 * w + n)        # the batch part is done
peak = max(range(start, end + 1), key=lambda i: rows[i][2])
def stage(name, a, b):
    dt = rows[b][0] - rows[a][0]
    if dt <= 0: return
    print(f"{name:10s} {dt:5.2f} s  {(rows[b][1] - rows[a][1]) / dt:8.0f} jobs/s done   redis {(rows[b][3] - rows[a][3]) / dt:4.0f} %   silo+client {(rows[b][4] - rows[a][4]) / dt:4.0f} %")
print(f"batch part: largest backlog {rows[peak][2]} ready jobs")
stage("submitting", start, peak); stage("draining", peak, end); stage("all", start, end)
PY
[ -n "${KEEP:-}" ] && echo "samples: $OUT" || rm -f "$OUT" "$OUT.log"
