using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace OrleansWorker.Storage.Kv;

/// <summary>How hard the embedded engine pushes each commit to disk.</summary>
public enum EmbeddedDurability
{
    /// <summary>
    /// Every commit is fsync'd before it is acknowledged (SQLite WAL, <c>synchronous=FULL</c>): an acknowledged job
    /// survives kill -9, an OS crash and power loss.
    /// </summary>
    Commit = 0,

    /// <summary>
    /// Commits reach the operating system before they are acknowledged and disk at checkpoints (WAL,
    /// <c>synchronous=NORMAL</c>): an acknowledged job survives kill -9 of the worker; an OS crash or power loss can
    /// lose the last commits (never corrupt the store).
    /// </summary>
    Process = 1,
}

/// <summary>
/// The embedded KV engine: hashes, sorted sets and sets as three SQLite tables in one WAL database file, behind an
/// exclusive lock on its directory so that one process (this one) owns it. Every call is one transaction on the
/// single writer connection, so units are atomic against every reader and writer; reads use their own connections.
/// </summary>
internal sealed class SqliteKvBackend : IKvBackend
{
    /// <summary>The database file name inside the data directory.</summary>
    public const string DatabaseFileName = "orleansworker.db";

    /// <summary>The lock file that keeps a second process out.</summary>
    public const string LockFileName = "orleansworker.lock";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS h (k TEXT NOT NULL, f TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (k, f)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS z (k TEXT NOT NULL, m TEXT NOT NULL, s REAL NOT NULL, PRIMARY KEY (k, m)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS z_score ON z (k, s, m);
        CREATE TABLE IF NOT EXISTS st (k TEXT NOT NULL, m TEXT NOT NULL, PRIMARY KEY (k, m)) WITHOUT ROWID;
        """;

    private readonly FileStream? _lock;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly Statements _w;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentBag<(SqliteConnection Connection, Statements Statements)> _readers = [];
    private readonly TimeProvider _time;
    private int _disposed;

    /// <summary>Opens (creating when needed) the store in <paramref name="directory"/>; throws with the path in the message when it cannot.</summary>
    /// <param name="directory">The data directory; created if missing.</param>
    /// <param name="durability">fsync on every commit, or only at checkpoints.</param>
    /// <param name="pageCacheBytes">SQLite's page cache per connection: the engine's memory for data (the rest stays on disk).</param>
    /// <param name="time">The clock of <see cref="KvGuardCode.ClockAtMost"/>.</param>
    /// <param name="exclusive">False only for tests that open a second backend on the same file to probe atomicity.</param>
    public SqliteKvBackend(string directory, EmbeddedDurability durability, long pageCacheBytes, TimeProvider time, bool exclusive = true)
    {
        _time = time;
        var full = Path.GetFullPath(directory);
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"The embedded data directory '{full}' cannot be created: {ex.Message}", ex);
        }

        if (exclusive)
        {
            var lockPath = Path.Combine(full, LockFileName);
            try
            {
                _lock = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
                _lock.SetLength(0);
                var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
                _lock.Write(pid);
                _lock.Flush(flushToDisk: false);
            }
            catch (UnauthorizedAccessException ex)
            {
                throw new InvalidOperationException($"The embedded data directory '{full}' is not writable: {ex.Message}", ex);
            }
            catch (IOException ex) when (IsReadOnly(ex))
            {
                throw new InvalidOperationException($"The embedded data directory '{full}' is not writable: {ex.Message}", ex);
            }
            catch (IOException ex)
            {
                throw new InvalidOperationException(
                    $"The embedded data directory '{full}' is in use by another process (lock file {lockPath}{OtherPid(lockPath)}). " +
                    "Only one worker can use an embedded data directory: stop the other process, or give this one its own Worker:Embedded:DataDirectory.", ex);
            }
        }

        var file = Path.Combine(full, DatabaseFileName);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = file, Pooling = false, DefaultTimeout = 30 }.ToString();
        var cacheKiB = Math.Max(64, pageCacheBytes / 1024);
        var synchronous = durability == EmbeddedDurability.Commit ? "FULL" : "NORMAL";
        try
        {
            _writer = Open();
            Exec(_writer, $"PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous}; PRAGMA cache_size=-{cacheKiB}; PRAGMA wal_autocheckpoint=4000;");
            Exec(_writer, Schema);
        }
        catch (SqliteException ex)
        {
            _lock?.Dispose();
            throw new InvalidOperationException($"The embedded database '{file}' cannot be opened: {ex.Message}", ex);
        }

        _w = new Statements(_writer);
        CacheKiB = cacheKiB;
        Description = new KvDescription(
            "embedded",
            file,
            durability == EmbeddedDurability.Commit
                ? "every commit fsync'd before it is acknowledged (survives kill -9, OS crash and power loss)"
                : "every commit reaches the OS before it is acknowledged, disk at checkpoints (survives kill -9; an OS crash can lose the last commits)",
            Exclusive: exclusive);
        Channel = "ow";
    }

    public KvDescription Description { get; }

    public bool PrefersLargeCalls => true;

    public string Channel { get; }

    /// <summary>The page cache per connection, in KiB.</summary>
    public long CacheKiB { get; }

    public event Action<string>? Message;

    public async Task<KvResult[]> ApplyAsync(IReadOnlyList<KvUnit> units)
    {
        var published = new List<string>();
        KvResult[] results;
        await _writeGate.WaitAsync();
        try
        {
            using var tx = _writer.BeginTransaction(deferred: false);
            _w.Attach(tx);
            results = new KvResult[units.Count];
            long? clock = null;
            for (var i = 0; i < units.Count; i++)
            {
                var unit = units[i];
                var result = KvResult.Applied;
                for (var g = 0; g < unit.Guards.Count && result.IsApplied; g++)
                {
                    result = Check(unit.Guards[g], g + 1, ref clock);
                }

                if (result.IsApplied)
                {
                    foreach (var write in unit.Writes)
                    {
                        Apply(write, published);
                    }
                }

                results[i] = result;
            }

            tx.Commit();
        }
        finally
        {
            _w.Attach(null);
            _writeGate.Release();
        }

        foreach (var message in published)
        {
            Message?.Invoke(message);
        }

        return results;
    }

    public async Task<KvClaimResult> ClaimAsync(KvClaim claim, IReadOnlyList<string> fields)
    {
        await _writeGate.WaitAsync();
        try
        {
            using var tx = _writer.BeginTransaction(deferred: false);
            _w.Attach(tx);
            if (_w.ZScore(claim.RevokedKey, claim.Owner) is not null)
            {
                return KvClaimResult.RevokedOwner;
            }

            ForgetFromRunSet(claim.RunKey, claim.JobKeyPrefix, claim.Owner, claim.Finished);

            var read = new List<string>(fields.Count + 3) { "state", "att", "prog" };
            read.AddRange(fields);
            var jobs = new List<KvClaimedJob>();
            var token = claim.TokenBase;
            var now = KvUnit.Num(claim.NowMs);
            foreach (var queue in claim.Queues)
            {
                if (jobs.Count >= claim.Max)
                {
                    break;
                }

                if (_w.SIsMember(claim.PausedKey, queue.Queue))
                {
                    continue;
                }

                foreach (var member in _w.ZPopMin(queue.ReadyKey, Math.Min(queue.Max, claim.Max - jobs.Count)))
                {
                    var id = member[16..];
                    var key = claim.JobKeyPrefix + id;
                    var values = read.Select(f => _w.HGet(key, f)).ToArray();
                    if (values[0] != "Queued")
                    {
                        continue;
                    }

                    token++;
                    var attempt = long.Parse(values[1] ?? "0", CultureInfo.InvariantCulture) + 1;
                    _w.HSet(key, "state", "Running");
                    if (claim.WriteSince)
                    {
                        _w.HSet(key, "since", now);
                    }

                    _w.HSet(key, "att", KvUnit.Num(attempt));
                    _w.HSet(key, "owner", claim.Owner);
                    _w.HSet(key, "tok", KvUnit.Num(token));
                    _w.HSet(key, "started", now);
                    if (values[2] is not null)
                    {
                        _w.HDel(key, "prog");
                        _w.HDel(key, "progMsg");
                    }

                    _w.SAdd(claim.RunKey, id);
                    var returned = new string?[fields.Count + 1];
                    returned[0] = KvUnit.Num(attempt);
                    for (var f = 0; f < fields.Count; f++)
                    {
                        returned[f + 1] = values[3 + f] ?? "";
                    }

                    jobs.Add(new KvClaimedJob(id, queue.Queue, token, returned));
                }
            }

            if (jobs.Count > 0 && !(_w.ZScore(claim.OwnersKey, claim.Owner) >= claim.LeaseUntilMs))
            {
                // Only forward: a renewal that landed after this claim's clock reading keeps its later end.
                _w.ZAdd(claim.OwnersKey, claim.LeaseUntilMs, claim.Owner);
            }

            tx.Commit();
            return new KvClaimResult(false, jobs);
        }
        finally
        {
            _w.Attach(null);
            _writeGate.Release();
        }
    }

    public async Task<int> AcquirePermitsAsync(string key, string holder, int want, int limit)
    {
        await _writeGate.WaitAsync();
        try
        {
            using var tx = _writer.BeginTransaction(deferred: false);
            _w.Attach(tx);
            var held = _w.HGetAll(key).Values.Sum(v => Math.Max(0, long.Parse(v, CultureInfo.InvariantCulture)));
            var grant = (int)Math.Min(want, limit - held);
            if (grant > 0)
            {
                var mine = long.Parse(_w.HGet(key, holder) ?? "0", CultureInfo.InvariantCulture);
                _w.HSet(key, holder, KvUnit.Num(mine + grant));
            }

            tx.Commit();
            return Math.Max(0, grant);
        }
        finally
        {
            _w.Attach(null);
            _writeGate.Release();
        }
    }

    public async Task<(int Granted, long NextMs)> AcquireWindowAsync(string key, string memberPrefix, int want, int limit, long nowMs, long periodMs)
    {
        await _writeGate.WaitAsync();
        try
        {
            using var tx = _writer.BeginTransaction(deferred: false);
            _w.Attach(tx);
            foreach (var old in _w.ZRangeByScore(key, double.NegativeInfinity, nowMs - periodMs, false, 0, int.MaxValue))
            {
                _w.ZRem(key, old.Member);
            }

            var grant = (int)Math.Min(want, limit - _w.ZCard(key));
            long next = nowMs;
            if (grant <= 0)
            {
                var oldest = _w.ZRangeByRank(key, 0, 1);
                next = oldest.Length > 0 ? (long)oldest[0].Score + periodMs + 1 : nowMs;
            }
            else
            {
                for (var i = 1; i <= grant; i++)
                {
                    _w.ZAdd(key, nowMs, $"{memberPrefix}:{i}");
                }
            }

            tx.Commit();
            return (Math.Max(0, grant), next);
        }
        finally
        {
            _w.Attach(null);
            _writeGate.Release();
        }
    }

    public IKvReadBatch CreateReadBatch() => new ReadBatch(this);

    public Task PingAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Task.CompletedTask;
    }

    public Task<DateTimeOffset> ClockAsync(string key) => Task.FromResult(_time.GetUtcNow());

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _writeGate.WaitAsync();
        _w.Dispose();
        await _writer.DisposeAsync();
        while (_readers.TryTake(out var reader))
        {
            reader.Statements.Dispose();
            await reader.Connection.DisposeAsync();
        }

        _lock?.Dispose();
        _writeGate.Dispose();
    }

    private KvResult Check(KvGuard guard, int index, ref long? clock)
    {
        switch (guard.Code)
        {
            case KvGuardCode.FieldEquals:
            {
                var v = _w.HGet(guard.Key!, guard.A) ?? "";
                return v == guard.B ? KvResult.Applied : new KvResult(index, v);
            }

            case KvGuardCode.FieldNotEquals:
            {
                var v = _w.HGet(guard.Key!, guard.A) ?? "";
                return v != guard.B ? KvResult.Applied : new KvResult(index, v);
            }

            case KvGuardCode.KeyAbsent:
                return _w.Exists(guard.Key!) ? new KvResult(index, _w.HGet(guard.Key!, guard.A) ?? "") : KvResult.Applied;

            case KvGuardCode.ClockAtMost:
                clock ??= _time.GetUtcNow().ToUnixTimeMilliseconds();
                return clock <= long.Parse(guard.A, CultureInfo.InvariantCulture) ? KvResult.Applied : new KvResult(index, KvUnit.Num(clock.Value));

            case KvGuardCode.ScoreAtMost:
            {
                var s = _w.ZScore(guard.Key!, guard.A);
                return s is { } score && score <= double.Parse(guard.B, CultureInfo.InvariantCulture)
                    ? KvResult.Applied
                    : new KvResult(index, s is null ? "" : KvUnit.Num(s.Value));
            }

            case KvGuardCode.MemberExists:
                return _w.ZScore(guard.Key!, guard.A) is null ? new KvResult(index, "") : KvResult.Applied;

            case KvGuardCode.MemberAbsent:
                return _w.ZScore(guard.Key!, guard.A) is { } present ? new KvResult(index, KvUnit.Num(present)) : KvResult.Applied;

            case KvGuardCode.UniqueFree:
            {
                var holder = _w.HGet(guard.Key!, guard.A);
                if (holder is null)
                {
                    return KvResult.Applied;
                }

                var parts = guard.B.Split('\n');
                if (parts.Length > 2 && parts[2] == holder)
                {
                    return KvResult.Applied; // the job that asks holds the key itself
                }

                var state = _w.HGet(parts[0] + holder, "state");
                if (state is null)
                {
                    return KvResult.Applied;
                }

                var done = state is "Succeeded" or "DeadLettered" or "Cancelled";
                var finished = _w.HGet(parts[0] + holder, "fin");
                var ttl = long.TryParse(_w.HGet(parts[0] + holder, "uniqFor"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) ? t : 0;
                var recent = !string.IsNullOrEmpty(finished)
                    && long.Parse(parts[1], CultureInfo.InvariantCulture) - long.Parse(finished, CultureInfo.InvariantCulture) < ttl;
                return !done || recent ? new KvResult(index, $"{holder}|{state}") : KvResult.Applied;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(guard), guard.Code, "Unknown guard.");
        }
    }

    /// <summary><see cref="KvWriteCode.RunSetForget"/>: every id leaves the run set unless its job is Running under the owner.</summary>
    private void ForgetFromRunSet(string runKey, string jobKeyPrefix, string owner, IReadOnlyList<string> jobIds)
    {
        foreach (var id in jobIds)
        {
            if (!(_w.HGet(jobKeyPrefix + id, "state") == "Running" && _w.HGet(jobKeyPrefix + id, "owner") == owner))
            {
                _w.SRem(runKey, id);
            }
        }
    }

    private void Apply(KvWrite write, List<string> published)
    {
        var key = write.Key!;
        var args = write.Args;
        switch (write.Code)
        {
            case KvWriteCode.HashSet:
                for (var i = 0; i < args.Length; i += 2)
                {
                    _w.HSet(key, args[i], args[i + 1]);
                }

                break;
            case KvWriteCode.HashDelete:
                foreach (var field in args)
                {
                    _w.HDel(key, field);
                }

                break;
            case KvWriteCode.HashIncrement:
                var current = long.Parse(_w.HGet(key, args[0]) ?? "0", CultureInfo.InvariantCulture);
                _w.HSet(key, args[0], KvUnit.Num(current + long.Parse(args[1], CultureInfo.InvariantCulture)));
                break;
            case KvWriteCode.HashAppend:
                var list = _w.HGet(key, args[0]);
                _w.HSet(key, args[0], string.IsNullOrEmpty(list) ? $"[{args[1]}]" : string.Concat(list.AsSpan(0, list.Length - 1), ",", args[1], "]"));
                break;
            case KvWriteCode.SortedSetAdd:
                _w.ZAdd(key, double.Parse(args[0], CultureInfo.InvariantCulture), args[1]);
                break;
            case KvWriteCode.SortedSetRemove:
                foreach (var member in args)
                {
                    _w.ZRem(key, member);
                }

                break;
            case KvWriteCode.SetAdd:
                foreach (var member in args)
                {
                    _w.SAdd(key, member);
                }

                break;
            case KvWriteCode.SetRemove:
                foreach (var member in args)
                {
                    _w.SRem(key, member);
                }

                break;
            case KvWriteCode.Delete:
                _w.Del(key);
                break;
            case KvWriteCode.Publish:
                published.Add(args[1]);
                break;
            case KvWriteCode.RunSetForget:
                ForgetFromRunSet(key, args[0], args[1], args.AsSpan(2).ToArray());
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(write), write.Code, "Unknown write.");
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        Exec(connection, "PRAGMA busy_timeout=30000;");
        return connection;
    }

    private (SqliteConnection Connection, Statements Statements) RentReader()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_readers.TryTake(out var reader))
        {
            return reader;
        }

        var connection = Open();
        Exec(connection, $"PRAGMA cache_size=-{CacheKiB};");
        return (connection, new Statements(connection));
    }

    private void Return((SqliteConnection Connection, Statements Statements) reader)
    {
        if (Volatile.Read(ref _disposed) != 0 || _readers.Count >= 4)
        {
            reader.Statements.Dispose();
            reader.Connection.Dispose();
            return;
        }

        _readers.Add(reader);
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static bool IsReadOnly(IOException ex) =>
        ex.HResult == 30 || ex.Message.Contains("Read-only file system", StringComparison.OrdinalIgnoreCase);

    private static string OtherPid(string lockPath)
    {
        try
        {
            using var stream = new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var text = reader.ReadToEnd().Trim();
            return text.Length is > 0 and < 16 ? $", held by process {text}" : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Prepared statements of one connection.</summary>
    private sealed class Statements : IDisposable
    {
        private readonly SqliteCommand _hget, _hset, _hdel, _hgetall, _zadd, _zrem, _zscore, _zpop, _zdelFirst, _zrange, _zrangeDesc, _zrank, _zcard, _sadd, _srem, _sismember, _smembers, _scard, _exists, _delH, _delZ, _delS;

        public Statements(SqliteConnection c)
        {
            _hget = Prepare(c, "SELECT v FROM h WHERE k = $k AND f = $f", "$k", "$f");
            _hset = Prepare(c, "INSERT INTO h (k, f, v) VALUES ($k, $f, $v) ON CONFLICT (k, f) DO UPDATE SET v = excluded.v", "$k", "$f", "$v");
            _hdel = Prepare(c, "DELETE FROM h WHERE k = $k AND f = $f", "$k", "$f");
            _hgetall = Prepare(c, "SELECT f, v FROM h WHERE k = $k", "$k");
            _zadd = Prepare(c, "INSERT INTO z (k, m, s) VALUES ($k, $m, $s) ON CONFLICT (k, m) DO UPDATE SET s = excluded.s", "$k", "$m", "$s");
            _zrem = Prepare(c, "DELETE FROM z WHERE k = $k AND m = $m", "$k", "$m");
            _zscore = Prepare(c, "SELECT s FROM z WHERE k = $k AND m = $m", "$k", "$m");
            _zpop = Prepare(c, "SELECT m FROM z WHERE k = $k ORDER BY s, m LIMIT $n", "$k", "$n");
            _zdelFirst = Prepare(c, "DELETE FROM z WHERE k = $k AND m IN (SELECT m FROM z WHERE k = $k ORDER BY s, m LIMIT $n)", "$k", "$n");
            _zrange = Prepare(c, "SELECT m, s FROM z WHERE k = $k AND s >= $min AND s <= $max ORDER BY s, m LIMIT $take OFFSET $skip", "$k", "$min", "$max", "$take", "$skip");
            _zrangeDesc = Prepare(c, "SELECT m, s FROM z WHERE k = $k AND s >= $min AND s <= $max ORDER BY s DESC, m DESC LIMIT $take OFFSET $skip", "$k", "$min", "$max", "$take", "$skip");
            _zrank = Prepare(c, "SELECT m, s FROM z WHERE k = $k ORDER BY s, m LIMIT $take OFFSET $skip", "$k", "$take", "$skip");
            _zcard = Prepare(c, "SELECT count(*) FROM z WHERE k = $k", "$k");
            _sadd = Prepare(c, "INSERT OR IGNORE INTO st (k, m) VALUES ($k, $m)", "$k", "$m");
            _srem = Prepare(c, "DELETE FROM st WHERE k = $k AND m = $m", "$k", "$m");
            _sismember = Prepare(c, "SELECT 1 FROM st WHERE k = $k AND m = $m", "$k", "$m");
            _smembers = Prepare(c, "SELECT m FROM st WHERE k = $k", "$k");
            _scard = Prepare(c, "SELECT count(*) FROM st WHERE k = $k", "$k");
            _exists = Prepare(c, "SELECT EXISTS (SELECT 1 FROM h WHERE k = $k) OR EXISTS (SELECT 1 FROM z WHERE k = $k) OR EXISTS (SELECT 1 FROM st WHERE k = $k)", "$k");
            _delH = Prepare(c, "DELETE FROM h WHERE k = $k", "$k");
            _delZ = Prepare(c, "DELETE FROM z WHERE k = $k", "$k");
            _delS = Prepare(c, "DELETE FROM st WHERE k = $k", "$k");
        }

        private IEnumerable<SqliteCommand> All => [_hget, _hset, _hdel, _hgetall, _zadd, _zrem, _zscore, _zpop, _zdelFirst, _zrange, _zrangeDesc, _zrank, _zcard, _sadd, _srem, _sismember, _smembers, _scard, _exists, _delH, _delZ, _delS];

        public void Attach(SqliteTransaction? tx)
        {
            foreach (var command in All)
            {
                command.Transaction = tx;
            }
        }

        public string? HGet(string k, string f) => _hget.Bind(k, f).ExecuteScalar() as string;

        public void HSet(string k, string f, string v) => _hset.Bind(k, f, v).ExecuteNonQuery();

        public void HDel(string k, string f) => _hdel.Bind(k, f).ExecuteNonQuery();

        public Dictionary<string, string> HGetAll(string k)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            using var reader = _hgetall.Bind(k).ExecuteReader();
            while (reader.Read())
            {
                result[reader.GetString(0)] = reader.GetString(1);
            }

            return result;
        }

        public void ZAdd(string k, double s, string m) => _zadd.Bind(k, m, s).ExecuteNonQuery();

        public void ZRem(string k, string m) => _zrem.Bind(k, m).ExecuteNonQuery();

        public double? ZScore(string k, string m) => _zscore.Bind(k, m).ExecuteScalar() is double s ? s : null;

        public List<string> ZPopMin(string k, int n)
        {
            var members = new List<string>(n);
            using (var reader = _zpop.Bind(k, (long)n).ExecuteReader())
            {
                while (reader.Read())
                {
                    members.Add(reader.GetString(0));
                }
            }

            if (members.Count > 0)
            {
                _zdelFirst.Bind(k, (long)members.Count).ExecuteNonQuery();
            }

            return members;
        }

        public KvScored[] ZRangeByScore(string k, double min, double max, bool descending, int skip, int take) =>
            Scored((descending ? _zrangeDesc : _zrange).Bind(k, Clamp(min), Clamp(max), (long)take, (long)skip));

        public KvScored[] ZRangeByRank(string k, long start, int take) => Scored(_zrank.Bind(k, (long)take, start));

        public long ZCard(string k) => (long)_zcard.Bind(k).ExecuteScalar()!;

        public void SAdd(string k, string m) => _sadd.Bind(k, m).ExecuteNonQuery();

        public void SRem(string k, string m) => _srem.Bind(k, m).ExecuteNonQuery();

        public bool SIsMember(string k, string m) => _sismember.Bind(k, m).ExecuteScalar() is not null;

        public string[] SMembers(string k)
        {
            var result = new List<string>();
            using var reader = _smembers.Bind(k).ExecuteReader();
            while (reader.Read())
            {
                result.Add(reader.GetString(0));
            }

            return [.. result];
        }

        public long SCard(string k) => (long)_scard.Bind(k).ExecuteScalar()!;

        public bool Exists(string k) => (long)_exists.Bind(k).ExecuteScalar()! != 0;

        public void Del(string k)
        {
            _delH.Bind(k).ExecuteNonQuery();
            _delZ.Bind(k).ExecuteNonQuery();
            _delS.Bind(k).ExecuteNonQuery();
        }

        public void Dispose()
        {
            foreach (var command in All)
            {
                command.Dispose();
            }
        }

        private static KvScored[] Scored(SqliteCommand command)
        {
            var result = new List<KvScored>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                result.Add(new KvScored(reader.GetString(0), reader.GetDouble(1)));
            }

            return [.. result];
        }

        /// <summary>SQLite keeps infinities, but comparisons with them are clearer as huge finite bounds.</summary>
        private static double Clamp(double value) => double.IsPositiveInfinity(value) ? 1e300 : double.IsNegativeInfinity(value) ? -1e300 : value;

        private static SqliteCommand Prepare(SqliteConnection connection, string sql, params string[] parameters)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in parameters)
            {
                command.Parameters.Add(new SqliteParameter { ParameterName = name });
            }

            command.Prepare();
            return command;
        }
    }

    /// <summary>Queued reads run in one read transaction (a consistent snapshot) on a reader connection.</summary>
    private sealed class ReadBatch(SqliteKvBackend owner) : IKvReadBatch
    {
        private readonly List<Action<Statements>> _reads = [];
        private readonly List<Action<Exception>> _faults = [];

        public Task<Dictionary<string, string>> HashGetAll(string key) => Add(s => s.HGetAll(key));

        public Task<string?[]> HashGet(string key, IReadOnlyList<string> fields) => Add(s => fields.Select(f => s.HGet(key, f)).ToArray());

        public Task<KvScored[]> RangeByScore(string key, double min, double max, bool descending, int skip, int take) =>
            Add(s => s.ZRangeByScore(key, min, max, descending, skip, take));

        public Task<KvScored[]> RangeByRank(string key, long start, int take) => Add(s => s.ZRangeByRank(key, start, take));

        public Task<long> SortedSetLength(string key) => Add(s => s.ZCard(key));

        public Task<double?> Score(string key, string member) => Add(s => s.ZScore(key, member));

        public Task<string[]> SetMembers(string key) => Add(s => s.SMembers(key));

        public Task<long> SetLength(string key) => Add(s => s.SCard(key));

        public Task ExecuteAsync()
        {
            if (_reads.Count == 0)
            {
                return Task.CompletedTask;
            }

            var reader = owner.RentReader();
            try
            {
                using var tx = reader.Connection.BeginTransaction(deferred: true);
                reader.Statements.Attach(tx);
                foreach (var read in _reads)
                {
                    read(reader.Statements);
                }

                tx.Commit();
            }
            catch (Exception ex)
            {
                foreach (var fault in _faults)
                {
                    fault(ex);
                }

                throw;
            }
            finally
            {
                reader.Statements.Attach(null);
                owner.Return(reader);
            }

            return Task.CompletedTask;
        }

        private Task<T> Add<T>(Func<Statements, T> read)
        {
            var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            _reads.Add(s => done.TrySetResult(read(s)));
            _faults.Add(ex => done.TrySetException(ex));
            return done.Task;
        }
    }
}

/// <summary>Binds positional values to a prepared command's parameters.</summary>
internal static class SqliteCommandExtensions
{
    public static SqliteCommand Bind(this SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        return command;
    }
}
