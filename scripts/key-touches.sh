#!/usr/bin/env bash
# Counts the Redis work of a job's whole life (submit -> claim -> succeed): starts a fresh redis-server and the worker
# host (Release build), records `redis-cli monitor` while N no-op jobs go through one POST /jobs/batch, and prints
# commands, writes and keys per job (inside our scripts) plus the top-level calls.
#   dotnet build src/OrleansWorker.Silo -c Release && scripts/key-touches.sh [N=1000]
set -euo pipefail
N=${1:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DLL=$ROOT/src/OrleansWorker.Silo/bin/Release/net10.0/OrleansWorker.Silo.dll
[ -f "$DLL" ] || { echo "build first: dotnet build src/OrleansWorker.Silo -c Release" >&2; exit 2; }
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); HP=$(free_port); SP=$(free_port); GP=$(free_port)
SILO=""; MON=""
cleanup() {
  [ -n "$MON" ] && kill "$MON" 2>/dev/null || true
  [ -n "$SILO" ] && kill "$SILO" 2>/dev/null || true
  redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true
  if [ -n "${KEEP:-}" ]; then echo "kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
redis-server --port "$RP" --save "" --appendonly no --daemonize yes --dir "$WORK" >/dev/null
for _ in $(seq 1 50); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
(cd "$(dirname "$DLL")" && ASPNETCORE_HTTP_PORTS=$HP Orleans__Endpoints__SiloPort=$SP Orleans__Endpoints__GatewayPort=$GP \
  Orleans__Endpoints__AdvertisedIPAddress=127.0.0.1 Orleans__ClusterId=touches Logging__LogLevel__Default=Warning \
  ConnectionStrings__redis=127.0.0.1:$RP Worker__Queues__0=default exec dotnet "$DLL") > "$WORK/silo.log" 2>&1 &
SILO=$!
for _ in $(seq 1 120); do curl -sf "localhost:$HP/health" >/dev/null && break; sleep 0.5; done
curl -sf "localhost:$HP/health" >/dev/null || { echo "the worker did not start:" >&2; tail -20 "$WORK/silo.log" >&2; exit 1; }
sleep 3   # let start-up traffic (schedules, settings, lease) settle before recording
redis-cli -p "$RP" monitor > "$WORK/monitor.txt" &
MON=$!
sleep 0.5
python3 - "$N" "$HP" <<'PY'
import json, sys, urllib.request
n, port = int(sys.argv[1]), sys.argv[2]
body = json.dumps([{"type": "noop"} for _ in range(n)]).encode()
urllib.request.urlopen(urllib.request.Request(f"http://localhost:{port}/jobs/batch", data=body, headers={"content-type": "application/json"}), timeout=60).read()
PY
for _ in $(seq 1 300); do
  s=$(curl -s "localhost:$HP/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["states"]["Succeeded"])')
  [ "$s" = "$N" ] && break; sleep 0.2
done
[ "$s" = "$N" ] || { echo "only $s of $N succeeded" >&2; exit 1; }
sleep 1
kill "$MON"; MON=""
python3 - "$N" "$WORK/monitor.txt" <<'PY'
import collections, re, sys
n = int(sys.argv[1]); lines = open(sys.argv[2], errors="replace").read().splitlines()
quoted = lambda l: re.findall(r'"((?:[^"\\]|\\.)*)"', l)
inner = [l for l in lines if " lua]" in l]
top = [l for l in lines if " lua]" not in l and '"' in l]
writes = {"hset", "hdel", "zadd", "zrem", "sadd", "srem", "set", "del", "incr", "incrby", "hincrby", "expire", "pexpire",
          "lpush", "rpush", "zincrby", "hsetnx", "setnx", "publish", "unlink", "zremrangebyscore", "zpopmin"}
cmds, keys, w = collections.Counter(), collections.Counter(), 0
for l in inner:
    q = quoted(l)
    if not q: continue
    c = q[0].lower(); cmds[c] += 1; w += c in writes
    if len(q) > 1: keys[re.sub(r"[0-9a-f]{32}", "<id>", re.sub(r"run:[^}]*$", "run:<owner>", q[1]))] += 1
tc = collections.Counter(quoted(l)[0].lower() for l in top)
print(f"{n} no-op jobs, one POST /jobs/batch; Redis commands over their whole life:")
print(f"  inside our scripts: {len(inner)/n:.2f} per job, {w/n:.2f} of them writes")
print(f"  top-level calls:    {len(top)/n:.2f} per job  {dict(tc.most_common(6))}")
print("  by command per job: " + ", ".join(f"{k} {v/n:.2f}" for k, v in cmds.most_common(12)))
print("  by key per job:     " + ", ".join(f"{k} {v/n:.2f}" for k, v in keys.most_common(10)))
PY
