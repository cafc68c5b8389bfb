#!/usr/bin/env bash
# Redis per no-op job through the shipped worker host: memory (used_memory before and after, and one job's hash: its
# size and encoding), redis-server CPU (/proc) and Redis' own time by command (INFO commandstats).
# A fresh redis-server (AOF everysec; extra flags in REDIS_EXTRA) and the host with its defaults on free ports; N jobs
# over POST /jobs/batch (1,000 per call, 4 in flight).
# usage: dotnet build src/OrleansWorker.Silo -c Release && scripts/redis-per-job.sh [N=50000] [ROOT=repository]
set -uo pipefail
N=${1:-50000}; ROOT=${2:-$(cd "$(dirname "$0")/.." && pwd)}
DLL=$ROOT/src/OrleansWorker.Silo/bin/Release/net10.0/OrleansWorker.Silo.dll
WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RP=$(free_port); HP=$(free_port); SP=$(free_port); GP=$(free_port)
SILO=""
cleanup() { [ -n "$SILO" ] && kill "$SILO" 2>/dev/null || true; redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
redis-server --port "$RP" --save "" --appendonly yes --appendfsync everysec ${REDIS_EXTRA:-} --daemonize yes --dir "$WORK" >/dev/null
for _ in $(seq 1 50); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
(cd "$(dirname "$DLL")" && ASPNETCORE_HTTP_PORTS=$HP Orleans__Endpoints__SiloPort=$SP Orleans__Endpoints__GatewayPort=$GP \
  Orleans__Endpoints__AdvertisedIPAddress=127.0.0.1 Orleans__ClusterId=cs ConnectionStrings__redis=127.0.0.1:$RP exec dotnet "$DLL") > "$WORK/silo.log" 2>&1 &
SILO=$!
for _ in $(seq 1 120); do curl -sf "localhost:$HP/health" >/dev/null && break; sleep 0.5; done
sleep 2
redis-cli -p "$RP" config resetstat >/dev/null; m0=$(redis-cli -p "$RP" info memory | grep "^used_memory:" | tr -d "\r" | cut -d: -f2)
RPID=$(redis-cli -p "$RP" info server | grep process_id | cut -d: -f2 | tr -d '\r')
c0=$(awk '{print $14+$15}' /proc/$RPID/stat)
python3 - "$N" "$HP" <<'PY'
import json, sys, urllib.request, concurrent.futures
n, port = int(sys.argv[1]), sys.argv[2]
body = json.dumps([{"type": "noop"} for _ in range(1000)]).encode()
def post(_):
    urllib.request.urlopen(urllib.request.Request(f"http://localhost:{port}/jobs/batch", data=body, headers={"content-type": "application/json"}), timeout=120).read()
with concurrent.futures.ThreadPoolExecutor(4) as ex: list(ex.map(post, range(n // 1000)))
PY
for _ in $(seq 1 600); do
  s=$(curl -s "localhost:$HP/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["states"].get("Succeeded",0))')
  [ "$s" = "$N" ] && break; sleep 0.2
done
c1=$(awk '{print $14+$15}' /proc/$RPID/stat)
m1=$(redis-cli -p "$RP" info memory | grep "^used_memory:" | tr -d "\r" | cut -d: -f2)
K=$(redis-cli -p "$RP" --scan --pattern "*:j:*" | head -1 || true)
echo "memory per job $(( (m1-m0)/N )) B; a job hash: $(redis-cli -p "$RP" memory usage "$K") B, $(redis-cli -p "$RP" object encoding "$K")"
echo "redis cpu per job: $(python3 -c "print(($c1-$c0)*1e4/$N)") us (succeeded $s of $N)"
redis-cli -p "$RP" info commandstats | tr -d '\r' | python3 -c "
import sys,re
n=$N; rows=[]
for l in sys.stdin:
    m=re.match(r'cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)',l)
    if m: rows.append((int(m[3]),m[1],int(m[2])))
for u,c,calls in sorted(rows,reverse=True)[:20]: print(f'{c:24s} calls/job {calls/n:7.3f}  usec/job {u/n:7.2f}')
"
