#!/usr/bin/env bash
# Three silos and the API on one machine against redis-server on 127.0.0.1:6379. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "Install redis-server first (apt-get install -y redis-server)."; exit 1; }
redis-cli -p 6379 ping >/dev/null 2>&1 || redis-server --port 6379 --appendonly yes --daemonize yes --dir "${TMPDIR:-/tmp}"
dotnet build OrleansWorker.sln -c Release -nologo -v q
export ConnectionStrings__redis=127.0.0.1:6379 Orleans__Endpoints__AdvertisedIPAddress=127.0.0.1
pids=()
trap 'kill ${pids[*]} 2>/dev/null; wait' EXIT INT TERM
for i in 0 1 2; do
  Orleans__Endpoints__SiloPort=$((11111 + i)) Orleans__Endpoints__GatewayPort=$((30000 + i)) ASPNETCORE_HTTP_PORTS=$((4000 + i)) \
    dotnet src/OrleansWorker.Silo/bin/Release/net10.0/OrleansWorker.Silo.dll > "silo$i.log" 2>&1 &
  pids+=($!)
done
ASPNETCORE_HTTP_PORTS=3000 dotnet src/OrleansWorker.Api/bin/Release/net10.0/OrleansWorker.Api.dll > api.log 2>&1 &
pids+=($!)
echo "silos on :4000 :4001 :4002, API on :3000 (logs: silo*.log, api.log). Ctrl-C to stop."
wait
