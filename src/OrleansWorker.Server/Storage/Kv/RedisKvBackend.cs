using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace OrleansWorker.Storage.Kv;

/// <summary>
/// The KV engine on redis-server (or Redis Cluster): units run through one generic Lua script, or its compact form
/// when every unit of the call has the shape of an insert or of a success (<see cref="RecordShape"/>); the claim runs
/// through a third. All are sent as EVALSHA. Every call's keys share one hash slot, passed in KEYS for cluster routing.
/// </summary>
internal sealed class RedisKvBackend : IKvBackend
{
    private static readonly ConcurrentDictionary<string, byte[]> ScriptHashes = new(StringComparer.Ordinal);
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisChannel _channel;

    public RedisKvBackend(IConnectionMultiplexer redis, string channel)
    {
        _redis = redis;
        Channel = channel;
        _channel = RedisChannel.Literal(channel);
        _redis.GetSubscriber().Subscribe(_channel, (_, message) => Message?.Invoke((string?)message ?? ""));
        var endpoints = string.Join(",", redis.GetEndPoints().Select(e => e.ToString()));
        Description = new KvDescription("redis", endpoints, "as configured on the Redis server (appendonly yes, appendfsync everysec or always, is what the worker expects)", Exclusive: false);
    }

    public KvDescription Description { get; }

    public string Channel { get; }

    public event Action<string>? Message;

    private IDatabase Db => _redis.GetDatabase();

    public async Task<KvResult[]> ApplyAsync(IReadOnlyList<KvUnit> units)
    {
        if (units.Count == 0)
        {
            return [];
        }

        if (RecordShape.Of(units) is { } shape)
        {
            return Results(units.Count, await EvalAsync(RedisLua.Records, shape.Keys, shape.Args));
        }

        // The arguments go straight into an array of their exact size (a first pass counts them): a batch of 512 units
        // is ~25,000 arguments, and each growth or copy of them cost ~3 KB per job.
        var keys = new KeyTable();
        var writes = new List<EncodedWrite>();
        var preFields = new List<string>(4);
        var counter = new ArgWriter(null);
        foreach (var unit in units)
        {
            Encode(unit, ref counter, null, writes, preFields);
        }

        var writer = new ArgWriter(new RedisValue[1 + counter.Count]);
        writer.Add(units.Count);
        foreach (var unit in units)
        {
            Encode(unit, ref writer, keys, writes, preFields);
        }

        return Results(units.Count, await EvalAsync(RedisLua.Apply, keys.ToArray(), writer.Buffer!));
    }

    /// <summary>Reads a reply of <see cref="RedisLua.Apply"/> or <see cref="RedisLua.Records"/>: only the units that did not apply (unit number, failed guard, value), usually none.</summary>
    private static KvResult[] Results(int count, RedisResult reply)
    {
        var raw = (RedisResult[])reply!;
        var results = new KvResult[count];
        Array.Fill(results, KvResult.Applied);
        for (var i = 0; i + 2 < raw.Length; i += 3)
        {
            results[(int)raw[i] - 1] = new KvResult((int)raw[i + 1], (string?)raw[i + 2] ?? "");
        }

        return results;
    }

    /// <summary>
    /// A call in the form of <see cref="RedisLua.Records"/>: every unit is either a lone publish, or one hash guarded
    /// the same way as every other unit's (absent; a field equal to a value of the unit's; or that and another field not
    /// equal to a value of the call's), written with one HSET, plus sorted-set adds and publishes. That is an insert and
    /// an attempt's success, the two writes every job makes, and a batch of either has this form.
    /// </summary>
    internal sealed record RecordShape(RedisKey[] Keys, RedisValue[] Args)
    {
        private const string Absent = "n", ClockThenAbsent = "tn", Equal = "e", EqualNotEqual = "en";

        /// <summary>The call in this form, or null when a unit has another shape (the call then goes to <see cref="RedisLua.Apply"/>).</summary>
        public static RecordShape? Of(IReadOnlyList<KvUnit> units)
        {
            // First pass: the template (from the first guarded unit), every unit checked against it, the arguments counted.
            string? mode = null, a = "", b = "", c = "";
            var count = 5;
            for (var u = 0; u < units.Count; u++)
            {
                var guards = units[u].Guards;
                var writes = units[u].Writes;
                if (guards.Count == 0)
                {
                    if (writes.Count != 1 || writes[0].Code != KvWriteCode.Publish)
                    {
                        return null;
                    }

                    count += 3;
                    continue;
                }

                var g = guards[0];
                var (unitMode, ua, ub, uc) = guards.Count switch
                {
                    1 when g.Code == KvGuardCode.KeyAbsent => (Absent, g.A, "", ""),
                    1 when g.Code == KvGuardCode.FieldEquals => (Equal, g.A, "", ""),
                    2 when g.Code == KvGuardCode.ClockAtMost && guards[1].Code == KvGuardCode.KeyAbsent => (ClockThenAbsent, guards[1].A, "", ""),
                    2 when g.Code == KvGuardCode.FieldEquals && guards[1].Code == KvGuardCode.FieldNotEquals && guards[1].Key == g.Key =>
                        (EqualNotEqual, g.A, guards[1].A, guards[1].B),
                    _ => ((string?)null, "", "", ""),
                };
                if (unitMode is null || (mode is not null && (mode != unitMode || a != ua || b != ub || c != uc)))
                {
                    return null;
                }

                (mode, a, b, c) = (unitMode, ua, ub, uc);
                var hash = HashKey(guards);
                var sets = 0;
                for (var w = 0; w < writes.Count; w++)
                {
                    var write = writes[w];
                    if (write.Code == KvWriteCode.HashSet && write.Key == hash)
                    {
                        sets++;
                        count += write.Args.Length;
                    }
                    else if (write.Code is KvWriteCode.SortedSetAdd or KvWriteCode.Publish)
                    {
                        count += 3;
                    }
                    else
                    {
                        return null;
                    }
                }

                if (sets != 1)
                {
                    return null;
                }

                count += (mode == Absent ? 1 : 2) + 2;
            }

            if (mode is null)
            {
                return null;
            }

            // Second pass: the arguments. Writes to other keys than the hash are independent of it, so the HSET goes first.
            var keys = new KeyTable();
            var args = new RedisValue[count];
            var i = 0;
            args[i++] = units.Count;
            args[i++] = mode;
            args[i++] = a;
            args[i++] = b;
            args[i++] = c;
            for (var u = 0; u < units.Count; u++)
            {
                var guards = units[u].Guards;
                var writes = units[u].Writes;
                if (guards.Count == 0)
                {
                    args[i++] = 0;
                    args[i++] = writes[0].Args[0];
                    args[i++] = writes[0].Args[1];
                    continue;
                }

                args[i++] = keys.Of(HashKey(guards));
                if (mode != Absent)
                {
                    // The unit's own value: the deadline (ms) of ClockThenAbsent, the expected field value of the others.
                    args[i++] = mode == ClockThenAbsent ? guards[0].A : guards[0].B;
                }

                for (var w = 0; w < writes.Count; w++)
                {
                    if (writes[w].Code == KvWriteCode.HashSet)
                    {
                        args[i++] = writes[w].Args.Length;
                        foreach (var value in writes[w].Args)
                        {
                            args[i++] = value;
                        }
                    }
                }

                args[i++] = writes.Count - 1;
                for (var w = 0; w < writes.Count; w++)
                {
                    var write = writes[w];
                    if (write.Code != KvWriteCode.HashSet)
                    {
                        args[i++] = write.Code == KvWriteCode.Publish ? 0 : keys.Of(write.Key);
                        args[i++] = write.Args[0];
                        args[i++] = write.Args[1];
                    }
                }
            }

            return new RecordShape(keys.ToArray(), args);
        }

        /// <summary>The unit's guarded hash: its last guard's key (a clock guard, first, has none).</summary>
        private static string? HashKey(IReadOnlyList<KvGuard> guards) => guards[^1].Key;
    }

    /// <summary>The distinct keys of one call, numbered from 1 in order of first use (0 = no key).</summary>
    private sealed class KeyTable
    {
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
        private readonly List<RedisKey> _keys = [];

        public int Of(string? key)
        {
            if (key is null)
            {
                return 0;
            }

            if (!_index.TryGetValue(key, out var index))
            {
                _keys.Add(key);
                index = _keys.Count;
                _index[key] = index;
            }

            return index;
        }

        public RedisKey[] ToArray() => [.. _keys];
    }

    /// <summary>Writes arguments into an array, or (without one) only counts them.</summary>
    private struct ArgWriter(RedisValue[]? buffer)
    {
        public readonly RedisValue[]? Buffer = buffer;

        public int Count { get; private set; }

        public void Add(RedisValue value)
        {
            if (Buffer is not null)
            {
                Buffer[Count] = value;
            }

            Count++;
        }
    }

    /// <summary>One write as the script reads it: code, key, then an optional history head and the write's own arguments.</summary>
    private readonly record struct EncodedWrite(string Code, string? Key, RedisValue[]? Head, string[] Args);

    /// <summary>
    /// Encodes one unit for <see cref="RedisLua.Apply"/>: the field guards on the unit's first guarded key, and the
    /// history it appends to, are read with one HMGET; the append rides on the HSET of the same key.
    /// </summary>
    private static void Encode(KvUnit unit, ref ArgWriter args, KeyTable? keys, List<EncodedWrite> writes, List<string> preFields)
    {
        // Indexed loops throughout: a foreach over the IReadOnlyList would box its enumerator, twice per unit and pass.
        var guards = unit.Guards;
        var unitWrites = unit.Writes;
        string? preKey = null;
        for (var i = 0; i < guards.Count; i++)
        {
            if (guards[i].Code is KvGuardCode.FieldEquals or KvGuardCode.FieldNotEquals)
            {
                preKey = guards[i].Key;
                break;
            }
        }

        preFields.Clear();
        static int Pre(string? preKey, List<string> preFields, string? key, string field)
        {
            if (preKey is null || key != preKey)
            {
                return 0;
            }

            var at = preFields.IndexOf(field);
            if (at < 0)
            {
                preFields.Add(field);
                at = preFields.Count - 1;
            }

            return at + 1;
        }

        Span<int> guardPre = guards.Count <= 16 ? stackalloc int[guards.Count] : new int[guards.Count];
        for (var i = 0; i < guards.Count; i++)
        {
            var g = guards[i];
            guardPre[i] = g.Code is KvGuardCode.FieldEquals or KvGuardCode.FieldNotEquals ? Pre(preKey, preFields, g.Key, g.A) : 0;
        }

        // A history append on a key that is also set merges into that key's HSET.
        writes.Clear();
        for (var i = 0; i < unitWrites.Count; i++)
        {
            var w = unitWrites[i];
            if (w.Code == KvWriteCode.HashAppend)
            {
                var at = -1;
                for (var j = 0; j < writes.Count && at < 0; j++)
                {
                    at = writes[j].Code == "hset" && writes[j].Key == w.Key ? j : -1;
                }

                RedisValue[] head = [w.Args[0], w.Args[1], Pre(preKey, preFields, w.Key, w.Args[0])];
                writes.Add(new EncodedWrite("hsa", w.Key, head, at >= 0 ? writes[at].Args : []));
                if (at >= 0)
                {
                    writes[at] = writes[^1];
                    writes.RemoveAt(writes.Count - 1);
                }

                continue;
            }

            writes.Add(new EncodedWrite(WriteCode(w.Code), w.Key, null, w.Args));
        }

        args.Add(guards.Count);
        args.Add(writes.Count);
        args.Add(preFields.Count > 0 ? keys?.Of(preKey) ?? 0 : 0);
        args.Add(preFields.Count);
        foreach (var f in preFields)
        {
            args.Add(f);
        }

        for (var i = 0; i < guards.Count; i++)
        {
            var g = guards[i];
            args.Add(GuardCode(g.Code));
            args.Add(keys?.Of(g.Key) ?? 0);
            args.Add(g.A);
            args.Add(g.B);
            args.Add(guardPre[i]);
        }

        foreach (var (code, key, head, values) in writes)
        {
            args.Add(code);
            args.Add(keys?.Of(key) ?? 0);
            args.Add((head?.Length ?? 0) + values.Length);
            if (head is not null)
            {
                foreach (var h in head)
                {
                    args.Add(h);
                }
            }

            foreach (var v in values)
            {
                args.Add(v);
            }
        }
    }

    public async Task<KvClaimResult> ClaimAsync(KvClaim claim, IReadOnlyList<string> fields)
    {
        var keys = new RedisKey[4 + claim.Queues.Count];
        keys[0] = claim.OwnersKey;
        keys[1] = claim.RunKey;
        keys[2] = claim.RevokedKey;
        keys[3] = claim.PausedKey;
        var args = new List<RedisValue>(16 + (claim.Queues.Count * 2) + fields.Count + claim.Finished.Count)
        {
            claim.JobKeyPrefix, claim.Owner, claim.NowMs, claim.LeaseUntilMs, claim.TokenBase, claim.Max, claim.Queues.Count,
        };
        for (var i = 0; i < claim.Queues.Count; i++)
        {
            keys[4 + i] = claim.Queues[i].ReadyKey;
            args.Add(claim.Queues[i].Queue);
            args.Add(claim.Queues[i].Max);
        }

        args.Add(fields.Count);
        foreach (var field in fields)
        {
            args.Add(field);
        }

        args.Add(claim.Finished.Count);
        foreach (var id in claim.Finished)
        {
            args.Add(id);
        }

        args.Add(claim.WriteSince ? 1 : 0);

        var raw = (RedisResult[])(await EvalAsync(RedisLua.Claim, keys, [.. args]))!;
        if ((int)raw[0] < 0)
        {
            return KvClaimResult.RevokedOwner;
        }

        var stride = 4 + fields.Count;
        var jobs = new KvClaimedJob[(raw.Length - 1) / stride];
        for (var j = 0; j < jobs.Length; j++)
        {
            var b = 1 + (j * stride);
            var values = new string?[fields.Count + 1];
            values[0] = (string?)raw[b + 3];
            for (var f = 0; f < fields.Count; f++)
            {
                values[f + 1] = (string?)raw[b + 4 + f];
            }

            jobs[j] = new KvClaimedJob((string)raw[b]!, (string)raw[b + 1]!, (long)raw[b + 2], values);
        }

        return new KvClaimResult(false, jobs);
    }

    public async Task<int> AcquirePermitsAsync(string key, string holder, int want, int limit) =>
        (int)await EvalAsync(RedisLua.AcquirePermits, [key], [holder, want, limit]);

    public async Task<(int Granted, long NextMs)> AcquireWindowAsync(string key, string memberPrefix, int want, int limit, long nowMs, long periodMs)
    {
        var raw = (RedisResult[])(await EvalAsync(RedisLua.AcquireWindow, [key], [memberPrefix, want, limit, nowMs, periodMs]))!;
        return ((int)raw[0], (long)raw[1]);
    }

    public IKvReadBatch CreateReadBatch() => new ReadBatch(Db.CreateBatch());

    public Task PingAsync(CancellationToken cancellationToken) => Db.PingAsync().WaitAsync(cancellationToken);

    public async Task<DateTimeOffset> ClockAsync(string key)
    {
        // Seconds and microseconds, as the scripts read it (ms, rounded down). A script naming the key runs on its node.
        var time = (RedisResult[])(await Db.ScriptEvaluateAsync("return redis.call('TIME')", [key]))!;
        return DateTimeOffset.FromUnixTimeMilliseconds(((long)time[0] * 1000) + ((long)time[1] / 1000));
    }

    /// <summary>
    /// Sidekiq's and BullMQ's start-up check: an <c>allkeys-*</c> <c>maxmemory-policy</c> lets Redis delete keys under memory
    /// pressure (a deleted job key is a lost job), a <c>volatile-*</c> one the keys with a TTL (the rate-limit windows), and <c>appendonly no</c> loses what came after the last
    /// snapshot when Redis restarts. Read with INFO on every primary (CONFIG GET needs admin rights a worker should not have).
    /// </summary>
    public async Task<IReadOnlyList<KvSettingWarning>> SettingsWarningsAsync()
    {
        var warnings = new List<KvSettingWarning>();
        foreach (var endpoint in _redis.GetEndPoints())
        {
            var server = _redis.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            var where = endpoint.ToString() ?? "redis";
            // INFO as a raw command: StackExchange.Redis counts its typed INFO as an admin command.
            var info = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var section in new[] { "memory", "persistence" })
            {
                foreach (var line in ((string?)await server.ExecuteAsync("INFO", section) ?? "").Split('\n'))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon > 0)
                    {
                        info[line[..colon]] = line[(colon + 1)..].TrimEnd('\r');
                    }
                }
            }

            var policy = info.GetValueOrDefault("maxmemory_policy", "");
            if (policy.StartsWith("allkeys-", StringComparison.Ordinal))
            {
                warnings.Add(new KvSettingWarning(where, "maxmemory-policy", policy,
                    "when Redis reaches maxmemory it deletes keys, and a deleted job is lost without a trace; set maxmemory-policy noeviction (writes then fail and submissions answer 503)"));
            }
            else if (policy.StartsWith("volatile-", StringComparison.Ordinal))
            {
                // Only keys with a TTL go: of the worker's, the rate-limit windows.
                warnings.Add(new KvSettingWarning(where, "maxmemory-policy", policy,
                    "when Redis reaches maxmemory it deletes keys that have a TTL, and the rate-limit windows do, so a queue's rate limit can be exceeded; set maxmemory-policy noeviction"));
            }

            if (info.GetValueOrDefault("aof_enabled") == "0")
            {
                warnings.Add(new KvSettingWarning(where, "appendonly", "no",
                    "a Redis restart loses every job accepted since its last snapshot; set appendonly yes (appendfsync everysec, or always to lose nothing)"));
            }
        }

        return warnings;
    }

    public ValueTask DisposeAsync()
    {
        _redis.GetSubscriber().Unsubscribe(_channel);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// EVALSHA, falling back to EVAL (which also caches the script) when Redis answers NOSCRIPT — after a restart,
    /// SCRIPT FLUSH, or on a cluster node that has not seen the script yet.
    /// </summary>
    private async Task<RedisResult> EvalAsync(string script, RedisKey[] keys, RedisValue[] args)
    {
        var hash = ScriptHashes.GetOrAdd(script, static text => Sha1(text));
        try
        {
            return await Db.ScriptEvaluateAsync(hash, keys, args);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await Db.ScriptEvaluateAsync(script, keys, args);
        }
    }

#pragma warning disable CA5350 // SHA1 is what Redis names scripts by; it is not used for security here.
    private static byte[] Sha1(string text) => SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350

    private static string GuardCode(KvGuardCode code) => code switch
    {
        KvGuardCode.FieldEquals => "eq",
        KvGuardCode.FieldNotEquals => "ne",
        KvGuardCode.KeyAbsent => "nx",
        KvGuardCode.ClockAtMost => "clk",
        KvGuardCode.ScoreAtMost => "zle",
        KvGuardCode.MemberExists => "zex",
        KvGuardCode.MemberAbsent => "zno",
        KvGuardCode.UniqueFree => "uq",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    private static string WriteCode(KvWriteCode code) => code switch
    {
        KvWriteCode.HashSet => "hset",
        KvWriteCode.HashDelete => "hdel",
        KvWriteCode.HashIncrement => "hinc",
        KvWriteCode.HashAppend => "happ",
        KvWriteCode.SortedSetAdd => "zadd",
        KvWriteCode.SortedSetRemove => "zrem",
        KvWriteCode.SetAdd => "sadd",
        KvWriteCode.SetRemove => "srem",
        KvWriteCode.Delete => "del",
        KvWriteCode.Publish => "pub",
        KvWriteCode.RunSetForget => "srf",
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };

    private sealed class ReadBatch(IBatch batch) : IKvReadBatch
    {
        public async Task<Dictionary<string, string>> HashGetAll(string key)
        {
            var entries = await batch.HashGetAllAsync(key);
            var result = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
            foreach (var e in entries)
            {
                result[e.Name!] = e.Value!;
            }

            return result;
        }

        public async Task<string?[]> HashGet(string key, IReadOnlyList<string> fields)
        {
            var names = new RedisValue[fields.Count];
            for (var i = 0; i < names.Length; i++)
            {
                names[i] = fields[i];
            }

            var values = await batch.HashGetAsync(key, names);
            return values.Select(v => v.IsNull ? null : (string?)v).ToArray();
        }

        public async Task<KvScored[]> RangeByScore(string key, double min, double max, bool descending, int skip, int take)
        {
            var entries = await batch.SortedSetRangeByScoreWithScoresAsync(key, min, max, Exclude.None, descending ? Order.Descending : Order.Ascending, skip, take);
            return entries.Select(e => new KvScored(e.Element!, e.Score)).ToArray();
        }

        public async Task<KvScored[]> RangeByRank(string key, long start, int take)
        {
            var entries = await batch.SortedSetRangeByRankWithScoresAsync(key, start, start + take - 1);
            return entries.Select(e => new KvScored(e.Element!, e.Score)).ToArray();
        }

        public Task<long> SortedSetLength(string key) => batch.SortedSetLengthAsync(key);

        public Task<double?> Score(string key, string member) => batch.SortedSetScoreAsync(key, member);

        public async Task<string[]> SetMembers(string key) => (await batch.SetMembersAsync(key)).Select(v => (string)v!).ToArray();

        public Task<long> SetLength(string key) => batch.SetLengthAsync(key);

        public Task ExecuteAsync()
        {
            batch.Execute();
            return Task.CompletedTask;
        }
    }

    /// <summary>Parses a score that Redis returned as text.</summary>
    internal static double ParseScore(string text) => double.Parse(text, CultureInfo.InvariantCulture);
}
