#!/usr/bin/env bash
# Runs every test. Installs what the tests need when missing (redis-server, promtool, docker-compose, python3-yaml,
# chromium, iproute2, iptables, and the runtime images' packages: curl, busybox, iputils-ping), builds, runs
# `dotnet test` with TRX results and ends with the line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
/usr/bin/python3 -c "import yaml" >/dev/null 2>&1 || need+=(python3-yaml)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The partition tests: network namespaces (ip, iproute2) and a Redis-only cut (iptables inside the namespace).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || [ -x /sbin/iptables ] || need+=(iptables)
# The runtime images' packages (curl, busybox, iputils-ping: read from the Dockerfiles), whose binaries RunbookCommandsTests runs.
for pkg in $(sed -n 's/.*apt-get install -y --no-install-recommends \([a-z0-9. +-]*\).*/\1/p' docker/*.Dockerfile | tr ' ' '\n' | sort -u); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "Could not install ${need[*]}; install them and run again."; echo "0 passed, 1 failed"; exit 1; }
fi
# The Debian package starts a redis-server service on 6379; the tests start their own on free ports.

results=TestResults
rm -rf "$results"
dotnet build OrleansWorker.sln -c Debug -nologo -v q 2>&1 | tail -20
build=${PIPESTATUS[0]}
if [ "$build" -ne 0 ]; then
  echo "Build failed."
  echo "0 passed, 1 failed"
  exit 1
fi

dotnet test OrleansWorker.sln -c Debug --no-build --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" 2>&1 \
  | grep -vE "^\s+(Passed|Skipped) " 
status=${PIPESTATUS[0]}

python3 - "$results" "$status" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
files = glob.glob(sys.argv[1] + "/**/*.trx", recursive=True)
for f in files:
    c = ET.parse(f).getroot().find("{*}ResultSummary/{*}Counters")
    passed += int(c.get("passed", 0))
    failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0)) + int(c.get("aborted", 0))
    skipped += int(c.get("notExecuted", 0))
if not files or (int(sys.argv[2]) != 0 and failed == 0):
    failed += 1  # the run itself failed (crash or no results)
line = f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
print(line)
sys.exit(1 if failed else 0)
PY
