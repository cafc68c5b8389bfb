#!/usr/bin/env python3
"""Reads `perf sched timehist` (stdin) and prints, for each combination of what the CPUs ran, the share of the time.

    perf sched timehist -i sched.perf | python3 scripts/core-states.py <harness pid> <redis-server pid>

Each timehist line is a task switched out: its time, its CPU, the task (name[tid/pid] or name[pid]) and, last, how long
it ran. A CPU's timeline is those runs; where none covers a moment, the CPU idled. States: D the harness process, R
redis-server, C redis-server's AOF-rewrite child (another pid whose name starts with redis), O anything else, I idle.
The timelines are sampled every 10 µs over the window that every CPU's records cover."""
import bisect, collections, re, sys

harness, redis = sys.argv[1], sys.argv[2]
runs = collections.defaultdict(list)
for line in sys.stdin:
    parts = line.split()
    if len(parts) < 6 or not re.fullmatch(r"\[\d+\]", parts[1]):
        continue
    try:
        end, cpu, ran = float(parts[0]), int(parts[1][1:-1]), float(parts[-1])
    except ValueError:
        continue  # the header
    task = " ".join(parts[2:-3])
    ids = re.search(r"\[(\d+)(?:/(\d+))?\]$", task)
    pid = (ids.group(2) or ids.group(1)) if ids else ""
    if pid == harness:
        state = "D"
    elif pid == redis:
        state = "R"
    elif task.startswith("redis"):
        state = "C"
    elif task.startswith("<idle>"):
        state = "I"
    else:
        state = "O"
    runs[cpu].append((end - ran / 1000, end, state))

if not runs:
    sys.exit("no scheduler records (was perf sched record run as root?)")
for cpu in runs:
    runs[cpu].sort()
starts = {cpu: [r[0] for r in runs[cpu]] for cpu in runs}
first = max(r[0][0] for r in runs.values())
last = min(r[-1][1] for r in runs.values())


def state(cpu, t):
    i = bisect.bisect_right(starts[cpu], t) - 1
    return runs[cpu][i][2] if i >= 0 and runs[cpu][i][0] <= t < runs[cpu][i][1] else "I"


counts, n, t = collections.Counter(), 0, first
while t < last:
    counts["".join(sorted(state(cpu, t) for cpu in runs))] += 1
    n += 1
    t += 10e-6
print(f"{len(runs)} CPUs, {last - first:.2f} s; D harness (silo + client), R redis-server, C its rewrite child, O other, I idle")
for combination, c in counts.most_common():
    print(f"  {combination:6s} {100 * c / n:5.1f} %")
