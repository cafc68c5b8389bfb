#!/usr/bin/env python3
"""Redis CPU per no-op job: the compact script the store sends inserts and successes through (RedisLua.Records: each
insert guarded by its submission's deadline, mode tn), with the job's definition in one field, no index of every job
and no `since` at claim (store layout 3, as shipped since 0.4.2), against the same in layout 2 (0.4.1: every job also
in `all`, `since` written at claim), inserts through the generic script (RedisLua.Apply, as every submission went before mode tn) in layout 2 and
in layout 1 (0.3: the definition in eight fields plus the id), the completion before the compact success field (the
successful attempt appended to the JSON history), the same commands sent bare (MULTI/EXEC), and with the AOF.
Starts its own redis-server (AOF off but in the AOF variants) on a free port and plays a job's life in batches of B:
insert (as RedisKvBackend encodes it), claim (the claim script), complete (token and cancel guards, the outcome and
the compact success field, finished index). Variants alternate per round.

    python3 tests/OrleansWorker.Benchmarks/redis-cost/script_vs_commands.py [rounds] [jobs per round] [variant filter]

The filter keeps the variants whose name contains it (e.g. "forget": the claim that carries the last batch's ended ids,
as the engine sends it, keeping a job that is Running under the owner, against forgetting them unconditionally).

Prints per variant and round: redis-server CPU µs per job (from /proc) and Redis' own µs per job by command."""
import os, random, re, socket, subprocess, sys, tempfile, textwrap, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LUA = open(os.path.join(ROOT, "src/OrleansWorker.Server/Storage/Kv/RedisLua.cs")).read()
def script(name):
    # A script may start with a shared part of its own ($$""" ... {{Part}} ...): put that in, as the compiler does.
    text = textwrap.dedent(re.search(name + r' = \$*"""\n(.*?)\n\s*""";', LUA, re.S).group(1))
    return re.sub(r"\{\{(\w+)\}\}", lambda m: script(m.group(1)), text)

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port)); self.f = self.s.makefile("rb")
    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
    def read(self):
        line = self.f.readline(); kind, rest = line[:1], line[1:-2]
        if kind == b"+": return rest.decode()
        if kind == b"-": raise RuntimeError(rest.decode())
        if kind == b":": return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        n = int(rest)
        return None if n < 0 else [self.read() for _ in range(n)]
    def call(self, *args):
        self.send(*args); return self.read()

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
JOBS = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
FILTER = sys.argv[3] if len(sys.argv) > 3 else ""
B = 500
port, workdir = free_port(), tempfile.mkdtemp(prefix="ow-redis-cost-")
server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
                          stdout=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            r = Conn(port); r.call("PING"); break
        except OSError:
            time.sleep(0.05)
    APPLY, CLAIM = r.call("SCRIPT", "LOAD", script("Apply")).decode(), r.call("SCRIPT", "LOAD", script("Claim")).decode()
    RECORDS = r.call("SCRIPT", "LOAD", script("Records")).decode()
    # The claim as it was before it kept a re-claimed job in the run set: every ended id forgotten, unread.
    keeping = "if nx > 0 then forget(KEYS[2], jp, owner, xa + 1, xa + nx) end"
    if keeping not in script("Claim"): raise RuntimeError("the claim's forgetting is not where this script expects it")
    CLAIM_FORGET_ALL = r.call("SCRIPT", "LOAD", script("Claim").replace(
        keeping, "if nx > 0 then redis.call('SREM', KEYS[2], unpack(ARGV, xa + 1, xa + nx)) end")).decode()
    P = "{ow:0}:"; JP, READY, ALL, FIN = P + "j:", P + "q:default", P + "all", P + "f:Succeeded:default"
    NOW = int(time.time() * 1000); seq = [NOW << 12]
    CLAIMED = ["def", "payload", "since", "tp", "intr", "batch", "hasDeps"]  # JobFields.Claimed
    CLAIMED_1 = ["type", "payload", "maxAtt", "maxIntr", "tmo", "since", "tp", "pri", "seq", "intr", "created", "batch", "hasDeps"]  # 0.3
    TP = "00-22543d96c18b4cacf026eab6b5fe0a0c-52db904ce5808a81-00"
    HIST = '{"n":1,"s":%d,"e":%d,"silo":"127.0.0.1:49365@154883790","o":"Succeeded"}' % (NOW, NOW + 1)

    def job_fields(i, s):
        return ["id", i, "type", "noop", "queue", "default", "pri", "0", "seq", s, "maxAtt", "5", "maxIntr", "5", "tmo", "300000",
                "created", NOW, "state", "Queued", "since", NOW, "att", "0", "intr", "0", "tok", random.randint(1, 1 << 45), "tp", TP]

    def job_fields_layout1(i, s):
        # Layout 1 (0.3): no since, att or intr (absent reads as created, 0, 0); the definition in eight fields, the id.
        return ["id", i, "type", "noop", "queue", "default", "pri", "0", "seq", s, "maxAtt", "5", "maxIntr", "5", "tmo", "300000",
                "created", NOW, "state", "Queued", "tok", random.randint(1, 1 << 45), "tp", TP]

    def job_fields_now(i, s):
        # As inserted now (layout 2): the definition in one field (JobDefinition.Format), no id.
        return ["def", "0|%d|5|5|300000|%d|7|defaultnoop" % (s, NOW - (s >> 12)), "state", "Queued", "tok", random.randint(1, 1 << 45), "tp", TP]

    def done_fields():
        # As the store writes a success since 0.4.1: no since (a finished job's time is fin), the owner left as it was.
        return ["state", "Succeeded", "tok", random.randint(1, 1 << 45), "fin", NOW]

    def next_seq():
        seq[0] += 1; return seq[0]

    def insert_script(ids, fields=None):
        # The generic script, each job guarded by its submission's deadline and its hash being absent: how every
        # submission was stored before the compact script learnt the deadline (mode tn).
        keys, args = {}, [len(ids) + 1]
        k = lambda key: keys.setdefault(key, len(keys) + 1)
        for i in ids:
            s = next_seq(); f = (fields or job_fields)(i, s)
            args += [2, 3, 0, 0, "clk", 0, DEADLINE, "", 0, "nx", k(JP + i), "state", "", 0, "hset", k(JP + i), len(f), *f,
                     "zadd", k(READY), 2, "0", "%016x%s" % (s, i), "zadd", k(ALL), 2, NOW, i]
        args += [0, 1, 0, 0, "pub", 0, 2, "ow", "r|default"]
        r.call("EVALSHA", APPLY, len(keys), *keys, *args)

    OK = "1|%d|%d|127.0.0.1:49365@154883790" % (NOW, NOW + 1)

    DEADLINE = NOW + 3_600_000

    def insert_records(ids, fields=None, indexed=False):
        # As shipped: the compact script, mode tn (each job guarded by its submission's deadline, by Redis' clock, then
        # by its hash being absent, reporting its state). Store layout 3 (0.4.2) adds a job to its ready set only;
        # layout 2 (0.4.1) also to the index of every job, `all`.
        keys, args = {}, [len(ids) + 1, "tn", "state", "", ""]
        k = lambda key: keys.setdefault(key, len(keys) + 1)
        for i in ids:
            s = next_seq(); f = (fields or job_fields_now)(i, s)
            args += [k(JP + i), DEADLINE, len(f), *f]
            args += [2, k(READY), "0", "%016x%s" % (s, i), k(ALL), NOW, i] if indexed else [1, k(READY), "0", "%016x%s" % (s, i)]
        args += [0, "ow", "r|default"]
        if r.call("EVALSHA", RECORDS, len(keys), *keys, *args):
            raise RuntimeError("an insert did not apply")

    def complete_records(claimed):
        # As shipped: the compact script (template: tok equals the unit's value, cancel is not 1).
        keys, args = {}, [len(claimed), "en", "tok", "cancel", "1"]
        k = lambda key: keys.setdefault(key, len(keys) + 1)
        for i, tok in claimed:
            f = done_fields() + ["ok", OK]
            args += [k(JP + i), tok, len(f), *f, 1, k(FIN), NOW, i]
        if r.call("EVALSHA", RECORDS, len(keys), *keys, *args):
            raise RuntimeError("a completion did not apply")

    def complete_history(claimed):
        # Before: the successful attempt appended to the JSON history (≈ 95 B: the hash becomes a hash table).
        keys, args = {}, [len(claimed)]
        k = lambda key: keys.setdefault(key, len(keys) + 1)
        for i, tok in claimed:
            f = done_fields()
            args += [2, 2, k(JP + i), 3, "tok", "cancel", "hist", "eq", k(JP + i), "tok", tok, 1, "ne", k(JP + i), "cancel", "1", 2,
                     "zadd", k(FIN), 2, NOW, i, "hsa", k(JP + i), 3 + len(f), "hist", HIST, 3, *f]
        if r.call("EVALSHA", APPLY, len(keys), *keys, *args):
            raise RuntimeError("a completion did not apply")

    def pipeline(commands):
        for c in commands: r.send(*c)
        for _ in commands: r.read()

    def insert_bare(ids):
        cmds = [["MULTI"]]
        for i in ids:
            s = next_seq()
            cmds += [["EXISTS", JP + i], ["HSET", JP + i, *job_fields(i, s)], ["ZADD", READY, "0", "%016x%s" % (s, i)], ["ZADD", ALL, NOW, i]]
        pipeline(cmds + [["EXEC"]])

    def complete_bare(claimed):
        cmds = [["MULTI"]]
        for i, tok in claimed:
            cmds += [["HMGET", JP + i, "tok", "cancel"], ["ZADD", FIN, NOW, i], ["HSET", JP + i, *done_fields(), "ok", OK]]
        pipeline(cmds + [["EXEC"]])

    ended = []

    def claim(n, fields=CLAIMED, since=False, sha=None):
        # Store layout 3 (0.4.2) writes no `since` at claim (a running job's time is `started`); layouts 1 and 2 do.
        # With `sha`, the claim carries the previous batch's ended ids to forget from the run set, as the engine sends
        # them; without, they are taken out by a bare SREM after the claim.
        carried = ended[:] if sha else []
        res = r.call("EVALSHA", sha or CLAIM, 5, P + "owners", P + "run:o1", P + "revoked", P + "paused", READY,
                     JP, "o1", NOW, NOW + 30000, 1000, n, 1, "default", n, len(fields), *fields, len(carried), *carried, 1 if since else 0)
        out, j = [], 1
        while j < len(res):
            out.append((res[j].decode(), res[j + 2].decode())); j += 4 + len(fields)
        if len(out) != n: raise RuntimeError(f"claimed {len(out)} of {n}")
        if sha:
            ended[:] = [i for i, _ in out]
        else:
            r.call("SREM", P + "run:o1", *[i for i, _ in out])
        return out

    pid = int(re.search(r"process_id:(\d+)", r.call("INFO", "server").decode()).group(1))
    def cpu_us():
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) * 1_000_000 / os.sysconf("SC_CLK_TCK")

    insert_layout1 = lambda ids: insert_script(ids, job_fields_layout1)
    claim_layout1 = lambda n: claim(n, CLAIMED_1, since=True)
    insert_layout2 = lambda ids: insert_records(ids, indexed=True)
    claim_layout2 = lambda n: claim(n, since=True)
    insert_generic2 = lambda ids: insert_script(ids, job_fields_now)
    claim_keeping = lambda n: claim(n, sha=CLAIM)
    claim_forgetting_all = lambda n: claim(n, sha=CLAIM_FORGET_ALL)
    variants = [("claim forgets ended ids, keeping a running one (as shipped), AOF", insert_records, claim_keeping, complete_records, "64", "yes"),
                ("claim forgets ended ids unread (before), AOF", insert_records, claim_forgetting_all, complete_records, "64", "yes"),
                ("compact script, layout 3 (as shipped)", insert_records, claim, complete_records, "64", "no"),
                ("compact script, layout 2 (0.4.1)", insert_layout2, claim_layout2, complete_records, "64", "no"),
                ("generic insert, layout 2 (before tn)", insert_generic2, claim_layout2, complete_records, "64", "no"),
                ("generic insert, layout 1 (0.3)", insert_layout1, claim_layout1, complete_records, "64", "no"),
                ("generic, success in the JSON history", insert_script, claim_layout1, complete_history, "64", "no"),
                ("bare commands, MULTI/EXEC", insert_bare, claim_layout1, complete_bare, "64", "no"),
                ("as shipped, AOF everysec", insert_records, claim, complete_records, "64", "yes"),
                ("layout 2 (0.4.1), AOF everysec", insert_layout2, claim_layout2, complete_records, "64", "yes"),
                ("generic insert, layout 2, AOF", insert_generic2, claim_layout2, complete_records, "64", "yes"),
                ("generic insert, layout 1, AOF", insert_layout1, claim_layout1, complete_records, "64", "yes")]
    variants = [v for v in variants if FILTER in v[0]]
    for rnd in range(1, ROUNDS + 1):
        for name, insert, claim_, complete, listpack, aof in variants:
            ended.clear()
            r.call("FLUSHALL"); r.call("CONFIG", "SET", "hash-max-listpack-value", listpack); r.call("CONFIG", "SET", "appendonly", aof)
            while b"aof_rewrite_in_progress:1" in r.call("INFO", "persistence") or b"aof_rewrite_scheduled:1" in r.call("INFO", "persistence"):
                time.sleep(0.1)
            r.call("CONFIG", "RESETSTAT")
            c0 = cpu_us()
            for b in range(JOBS // B):
                ids = ["%s-%07d" % (rnd, b * B + x) for x in range(B)]
                insert(ids); complete(claim_(B))
            used = cpu_us() - c0
            stats = {m.group(1): int(m.group(2)) for m in re.finditer(r"cmdstat_(\S+):calls=\d+,usec=(\d+)", r.call("INFO", "commandstats").decode())}
            top = ", ".join(f"{c} {u / JOBS:.1f}" for c, u in sorted(stats.items(), key=lambda x: -x[1])[:7] if u / JOBS >= 0.1)
            enc = r.call("OBJECT", "ENCODING", JP + ids[0]).decode()
            print(f"round {rnd} | {name:66s} | redis-server {used / JOBS:5.1f} us/job | Redis' own us/job: {top} | job hash: {enc}", flush=True)
finally:
    server.terminate(); server.wait()
    subprocess.run(["rm", "-rf", workdir])
