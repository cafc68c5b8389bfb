#!/usr/bin/env python3
"""Where a redis-server's CPU goes, from a `perf record --call-graph dwarf` of it (and of the AOF-rewrite child it
forks): each sample is put in one bucket by the frames on its stack, then the commands run inside scripts by name.
Debian's redis-server is stripped, but it exports its own functions (for modules) and keeps .eh_frame, so the dwarf
stacks name everything except Lua's internal functions (shown as [unknown] inside `lua_pcall`).

    perf script -i redis.perf -F pid,tid,comm,ip,sym | python3 scripts/redis-profile.py [main-pid]

scripts/redis-profile.sh records and runs this for a benchmark phase."""
import collections
import sys


def samples(text):
    for block in text.split("\n\n"):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        if not lines:
            continue
        # "<comm> <pid>/<tid>"; comm may hold spaces
        comm, ids = lines[0].rsplit(None, 1)
        pid = int(ids.split("/")[0])
        frames = []
        for line in lines[1:]:
            parts = line.split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "[unknown]")
        yield pid, comm, frames


def has(frames, *names):
    return any(f.startswith(n) for f in frames for n in names)


# (bucket, test) in order: the first that matches takes the sample.
BUCKETS = [
    ("AOF rewrite: the forked child writing the dataset", lambda child, f: child),
    ("AOF: write() of the buffer (beforeSleep)", lambda child, f: has(f, "flushAppendOnlyFile")),
    ("AOF: commands turned into the file's format", lambda child, f: has(f, "feedAppendOnlyFile", "propagatePendingCommands")),
    ("scripts: the commands they call", lambda child, f: has(f, "evalGenericCommand", "fcallCommand") and has(f, "scriptCall")),
    ("scripts: replies into Lua values", lambda child, f: has(f, "evalGenericCommand", "fcallCommand") and has(f, "parseReply", "redisProtocolToLuaType")),
    ("scripts: KEYS/ARGV into Lua strings", lambda child, f: has(f, "evalGenericCommand", "fcallCommand") and has(f, "lua_pushlstring", "lua_rawseti") and not has(f, "lua_pcall")),
    ("scripts: the Lua interpreter and the rest of EVALSHA", lambda child, f: has(f, "evalGenericCommand", "fcallCommand")),
    ("commands sent directly", lambda child, f: "call" in f and has(f, "processCommand")),
    ("network: reading and parsing requests", lambda child, f: has(f, "readQueryFromClient")),
    ("network: replies", lambda child, f: has(f, "handleClientsWithPendingWrites", "writeToClient", "sendReplyToClient")),
    ("fork (in the parent)", lambda child, f: has(f, "rewriteAppendOnlyFileBackground", "redisFork")),
    ("serverCron (expiry, rehashing, stats)", lambda child, f: has(f, "serverCron")),
]


def main():
    data = list(samples(sys.stdin.read()))
    if not data:
        sys.exit("no samples: was perf script given -F pid,tid,comm,ip,sym?")
    main_pid = int(sys.argv[1]) if len(sys.argv) > 1 else collections.Counter(p for p, _, _ in data).most_common(1)[0][0]
    buckets, commands = collections.Counter(), collections.Counter()
    for pid, comm, frames in data:
        child = pid != main_pid
        name = next((b for b, test in BUCKETS if test(child, frames)), None)
        if name is None:
            name = "background threads (fsync, close, free)" if comm.startswith("bio") else "other (event loop, kernel)"
        buckets[name] += 1
        if name == "scripts: the commands they call":
            own = [f for f in frames if f.endswith("Command") and not f.startswith(("evalGenericCommand", "evalShaCommand", "fcallCommand", "processCommand", "lookupCommand"))]
            commands[own[-1].removesuffix("Command").removesuffix("Generic") if own else "dispatch (lookup, ACL, stats)"] += 1
    total = len(data)
    print(f"{total} samples of redis-server {main_pid} and its children")
    for name, n in buckets.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")
    print("the commands scripts call, by command:")
    for name, n in commands.most_common(10):
        print(f"   {100 * n / total:5.1f} %  {name}")


main()
