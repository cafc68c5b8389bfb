# Sourced by the scripts that watch a benchmark run (pipeline-timeline.sh, redis-profile.sh, core-states.sh).
# start_harness starts the harness with the given arguments in the background, its output in LOG, and waits for the
# redis-server it starts.
# Sets RUN (the `dotnet run` job), BPID (the harness process) and RPID (its redis-server); exits with a message if
# either does not appear within 60 s.
# usage: start_harness LOG harness-arguments...
start_harness() {
  local log=$1; shift
  local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  (cd "$root" && exec timeout 900 dotnet run -c Release --no-build --project tests/OrleansWorker.Benchmarks -- "$@") > "$log" 2>&1 &
  RUN=$!
  BPID=""; RPID=""
  for _ in $(seq 1 600); do
    BPID=$(pgrep -f "OrleansWorker.Benchmarks $*" | head -1)
    [ -n "$BPID" ] && RPID=$(pgrep -P "$BPID" redis-server | head -1)
    [ -n "$RPID" ] && return 0
    sleep 0.1
  done
  echo "the harness or its redis-server did not start: $log"
  exit 1
}

# For the perf scripts: reads "[SECONDS] [DELAY] [-- harness arguments]" into WINDOW, DELAY and ARGS (the defaults given
# first; the default harness arguments after the two numbers), exits if perf is missing, then starts the harness (output
# in $OUT/harness.log, OUT a new temporary folder) and returns DELAY seconds after its redis-server started.
# usage: perf_window_start DEFAULT_SECONDS DEFAULT_DELAY default-harness-arguments... -- "$@"
perf_window_start() {
  WINDOW=$1; DELAY=$2; shift 2
  local defaults=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do defaults+=("$1"); shift; done
  [ "${1:-}" = "--" ] && shift
  [ $# -ge 1 ] && [ "$1" != "--" ] && { WINDOW=$1; shift; }
  [ $# -ge 1 ] && [ "$1" != "--" ] && { DELAY=$1; shift; }
  [ "${1:-}" = "--" ] && shift
  ARGS=("$@"); [ ${#ARGS[@]} -eq 0 ] && ARGS=("${defaults[@]}")
  command -v perf >/dev/null || { echo "perf is not installed (Debian: apt-get install linux-perf)"; exit 1; }
  OUT=$(mktemp -d)
  start_harness "$OUT/harness.log" "${ARGS[@]}"
  sleep "$DELAY"
}
