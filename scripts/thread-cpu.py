#!/usr/bin/env python3
"""CPU of each thread of a process over an interval, from /proc/<pid>/task/*/stat (100 % = one core): the busiest
threads by id and name, then the sum per thread name. Shows whether one thread bounds a process (say, a socket reader
or a single writer loop) or the work is spread out.

    python3 scripts/thread-cpu.py <pid> [seconds=4]

For the benchmark's `client` phase, sample its process once the timed part runs, e.g.:
    dotnet run -c Release --no-build --project tests/OrleansWorker.Benchmarks -- --phases client --n 300000 --warmup 50000 &
    sleep 15; python3 scripts/thread-cpu.py $(pgrep -f bin/Release/net10.0/OrleansWorker.Benchmarks -n) 4"""
import collections, os, sys, time

pid = int(sys.argv[1])
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 4.0
ticks = os.sysconf("SC_CLK_TCK")


def sample():
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
            name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            out[tid] = (name, int(fields[11]) + int(fields[12]))
        except OSError:
            pass  # the thread ended between listing and reading
    return out


before, t0 = sample(), time.time()
time.sleep(seconds)
after, elapsed = sample(), time.time() - t0
threads, names = [], collections.Counter()
for tid, (name, used) in after.items():
    percent = (used - before.get(tid, (name, 0))[1]) / ticks / elapsed * 100
    names[name] += percent
    if percent > 0.5:
        threads.append((percent, tid, name))
for percent, tid, name in sorted(threads, reverse=True)[:15]:
    print(f"{percent:6.1f}%  {tid} {name}")
print("by name: " + ", ".join(f"{n} {p:.0f}%" for n, p in names.most_common(10) if p > 0.5))
