# Sourced by the scripts that watch a benchmark run (pipeline-timeline.sh, redis-profile.sh): starts the harness with the
# given arguments in the background, its output in LOG, and waits for the redis-server it starts.
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
