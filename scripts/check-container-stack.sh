#!/usr/bin/env bash
# Validates the container stack without a Docker engine: compose file, Prometheus config, every YAML under docker/,
# every JSON under docker/grafana, the dashboard's metric names, and the Dockerfiles' COPY sources.
# Needs docker-compose (or the `docker compose` plugin), promtool, python3 with PyYAML; installs the Debian packages
# (docker-compose, prometheus, python3-yaml) when one is missing and we are root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail=0
ok()   { printf 'OK    %s\n' "$*"; }
bad()  { printf 'FAIL  %s\n' "$*" >&2; fail=1; }
warn() { printf 'WARN  %s\n' "$*" >&2; }

apt_updated=0
need() { # need COMMAND-TEST DEBIAN-PACKAGE
    if eval "$1" >/dev/null 2>&1; then return 0; fi
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $2 ..."
        if [ "$apt_updated" -eq 0 ]; then apt-get update -qq >/dev/null && apt_updated=1; fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
    fi
    eval "$1" >/dev/null 2>&1
}

# A python3 with PyYAML: the one on PATH, else Debian's (python3-yaml installs into /usr/bin/python3).
PY=python3
if ! need 'python3 -c "import yaml"' python3-yaml; then
    if /usr/bin/python3 -c 'import yaml' >/dev/null 2>&1; then PY=/usr/bin/python3
    else bad "python3 with PyYAML not available (apt-get install python3-yaml)"; exit 1; fi
fi

# 1. docker-compose.yml
compose=()
if command -v docker-compose >/dev/null 2>&1; then compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif need 'command -v docker-compose' docker-compose; then compose=(docker-compose)
fi
if [ "${#compose[@]}" -eq 0 ]; then
    bad "docker-compose not available"
elif out=$("${compose[@]}" -f docker-compose.yml config -q 2>&1); then
    ok "${compose[*]} -f docker-compose.yml config -q"
else
    bad "${compose[*]} config: $out"
fi

# 2. Prometheus config
if need 'command -v promtool' prometheus; then
    if out=$(promtool check config docker/prometheus/prometheus.yml 2>&1); then
        ok "promtool check config docker/prometheus/prometheus.yml"
    else
        bad "promtool: $out"
    fi
else
    bad "promtool not available (apt-get install prometheus)"
fi

# 3. Every YAML file (docker/ and the compose file) parses.
while IFS= read -r -d '' f; do
    if out=$("$PY" -c '
import sys, yaml
try:
    list(yaml.safe_load_all(open(sys.argv[1])))
except yaml.YAMLError as e:
    sys.exit(str(e).replace("\n", " "))' "$f" 2>&1); then
        ok "yaml  $f"
    else
        bad "yaml  $f: $out"
    fi
done < <(find docker docker-compose.yml -type f \( -name '*.yml' -o -name '*.yaml' \) -print0 | sort -z)

# 4. Every JSON file under docker/grafana parses.
while IFS= read -r -d '' f; do
    if out=$("$PY" -m json.tool "$f" 2>&1 >/dev/null); then
        ok "json  $f"
    else
        bad "json  $f: $out"
    fi
done < <(find docker/grafana -type f -name '*.json' -print0 | sort -z)

# 5. Stack invariants the runbook relies on.
if out=$("$PY" - <<'PY' 2>&1
import json, re, glob, yaml
c = yaml.safe_load(open("docker-compose.yml"))
assert "name" not in c, "top-level name: is rejected by docker-compose 1.29"
s = c["services"]
for svc in ("redis", "tempo", "prometheus", "grafana", "api", "gateway", "worker"):
    assert svc in s, f"service {svc} missing"
assert "ports" not in s["worker"], "worker must publish no port (so --scale works)"
assert s["gateway"]["ports"] == ["4000:4000"], "gateway must publish 4000:4000"
assert s["api"]["ports"] == ["3000:3000"], "api must publish 3000:3000"
for svc in ("worker", "gateway"):
    lim = s[svc]["deploy"]["resources"]["limits"]
    assert str(lim["cpus"]) in ("1.0", "1") and lim["memory"] == "512M", f"{svc} limits"
    env = s[svc]["environment"]
    assert env["Worker__DrainTimeout"] == "00:00:20" and s[svc]["stop_grace_period"] == "40s", f"{svc} drain"
    assert env["ConnectionStrings__redis"] == "redis:6379" and env["OTEL_SERVICE_NAME"] == "worker"
assert s["api"]["environment"]["OTEL_SERVICE_NAME"] == "api"
allowed = {"worker_jobs_processed_total", "worker_job_duration_seconds_bucket", "worker_job_queue_wait_seconds_bucket",
           "worker_jobs_queued", "worker_jobs_in_flight", "worker_jobs_retried_total",
           "worker_jobs_dead_lettered_total", "worker_jobs_submitted_total", "up"}
funcs = {"sum", "by", "rate", "histogram_quantile", "max", "count", "increase", "le", "outcome", "job"}
for path in glob.glob("docker/grafana/dashboards/*.json"):
    d = json.load(open(path))
    for p in d["panels"]:
        for t in p.get("targets", []):
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r'"[^"]*"|\[[^\]]*\]', "", t["expr"])))
            unknown = words - allowed - funcs
            assert not unknown, f"{path} panel '{p['title']}': unknown metric(s) {sorted(unknown)}"
print("compose services, ports, limits, drain; dashboard metric names")
PY
); then
    ok "invariants: $out"
else
    bad "invariants: $(printf '%s\n' "$out" | tail -n 1)"
fi

# 6. Dockerfiles: required pieces, and the COPY sources (warn only: projects may still be being written).
for df in docker/worker.Dockerfile docker/api.Dockerfile; do
    for pat in 'FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build' 'FROM mcr.microsoft.com/dotnet/aspnet:10.0' \
               'USER $APP_UID' 'HEALTHCHECK' '/health/live' 'STOPSIGNAL SIGTERM' 'ENTRYPOINT' '--no-restore'; do
        grep -qF -- "$pat" "$df" || bad "$df lacks '$pat'"
    done
    missing=()
    while read -r src; do
        [ -e "$src" ] || missing+=("$src")
    done < <(awk '$1=="COPY" && $2 !~ /^--from/ { for (i = 2; i < NF; i++) print $i }' "$df")
    if [ "${#missing[@]}" -gt 0 ]; then warn "$df: COPY sources not (yet) in the repo: ${missing[*]}"; fi
    ok "dockerfile $df"
done
[ -f .dockerignore ] && ok ".dockerignore" || bad ".dockerignore missing"

if [ "$fail" -ne 0 ]; then
    echo "container stack check FAILED" >&2
    exit 1
fi
echo "container stack check passed"
