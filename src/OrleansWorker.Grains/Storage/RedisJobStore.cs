using System.Globalization;
using System.Text.Json;
using StackExchange.Redis;

namespace OrleansWorker.Storage;

/// <summary>The durable store: jobs, queues and indexes in Redis, every transition one Lua script.</summary>
internal sealed class RedisJobStore : IJobStore, IDisposable
{
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisValue _prefix;
    private readonly string _prefixText;
    private readonly RedisChannel _notify;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> ScriptHashes = new(StringComparer.Ordinal);
    private long _rotation;

    public RedisJobStore(IConnectionMultiplexer redis, string prefix)
    {
        _redis = redis;
        _prefixText = prefix;
        _prefix = prefix;
        _notify = RedisChannel.Literal(prefix + ":notify");
        _redis.GetSubscriber().Subscribe(_notify, (_, _) => JobsReady?.Invoke(null));
    }

    public bool IsDurable => true;

    public event Action<string?>? JobsReady;

    private IDatabase Db => _redis.GetDatabase();

    public async Task<IReadOnlyList<EnqueueResult?>> EnqueueAsync(IReadOnlyList<NewJob> jobs)
    {
        var args = new RedisValue[3 + (jobs.Count * 11)];
        args[0] = _prefix;
        args[1] = Ms(jobs.Count > 0 ? jobs[0].CreatedAt : DateTimeOffset.UnixEpoch);
        args[2] = jobs.Count;
        var a = 3;
        foreach (var j in jobs)
        {
            args[a++] = j.Id;
            args[a++] = j.Type;
            args[a++] = j.Queue;
            args[a++] = j.Priority;
            args[a++] = j.Payload ?? "";
            args[a++] = j.MaxAttempts;
            args[a++] = (long)j.Timeout.TotalMilliseconds;
            args[a++] = j.RunAt is { } due ? Ms(due) : "";
            args[a++] = Ms(j.CreatedAt);
            args[a++] = j.TraceParent ?? "";
            args[a++] = j.NotAfter is { } notAfter ? Ms(notAfter) : "";
        }

        var raw = (RedisResult[])(await EvalAsync(RedisScripts.Enqueue, args))!;
        var results = new EnqueueResult?[jobs.Count];
        for (var i = 0; i < jobs.Count; i++)
        {
            var state = (string)raw[i * 2]!;
            results[i] = state == "Expired" ? null : new EnqueueResult(jobs[i].Id, ParseState(state), (int)raw[(i * 2) + 1] == 1);
        }

        return results;
    }

    public async Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(string owner, int max, IReadOnlyList<string> queues, DateTimeOffset now, DateTimeOffset leaseUntil)
    {
        var args = new RedisValue[7 + queues.Count];
        args[0] = _prefix;
        args[1] = owner;
        args[2] = max;
        args[3] = Ms(now);
        args[4] = Ms(leaseUntil);
        args[5] = Interlocked.Increment(ref _rotation) & 0xFFFF;
        args[6] = queues.Count;
        for (var i = 0; i < queues.Count; i++)
        {
            args[7 + i] = queues[i];
        }

        var raw = (RedisResult[])(await EvalAsync(RedisScripts.Claim, args))!;
        var claimed = new ClaimedAttempt[raw.Length / 11];
        for (var i = 0; i < claimed.Length; i++)
        {
            var b = i * 11;
            claimed[i] = new ClaimedAttempt
            {
                JobId = (string)raw[b]!,
                Type = (string)raw[b + 1]!,
                Queue = (string)raw[b + 2]!,
                Payload = NullIfEmpty((string?)raw[b + 3]),
                Attempt = (int)raw[b + 4],
                MaxAttempts = (int)raw[b + 5],
                Timeout = TimeSpan.FromMilliseconds((long)raw[b + 6]),
                Owner = owner,
                StartedAt = now,
                EnqueuedAt = FromMs((long)raw[b + 7]),
                TraceParent = NullIfEmpty((string?)raw[b + 8]),
                Priority = (int)raw[b + 9],
                ClaimToken = (long)raw[b + 10],
            };
        }

        return claimed;
    }

    public async Task<IReadOnlyList<CompletionEffect>> CompleteAsync(IReadOnlyList<AttemptCompletion> completions)
    {
        var args = new RedisValue[2 + (completions.Count * 11)];
        args[0] = _prefix;
        args[1] = completions.Count;
        var a = 2;
        foreach (var c in completions)
        {
            args[a++] = c.JobId;
            args[a++] = c.Attempt;
            args[a++] = c.Owner;
            args[a++] = c.Outcome.ToString();
            args[a++] = c.Result ?? "";
            args[a++] = c.Error?.Type ?? "";
            args[a++] = c.Error?.Message ?? "";
            args[a++] = Ms(c.EndedAt);
            args[a++] = Ms(c.RetryAt);
            args[a++] = StoredAttempt.Serialize(new JobAttempt
            {
                Number = c.Attempt,
                StartedAt = c.StartedAt,
                EndedAt = c.EndedAt,
                Silo = c.Owner,
                Outcome = c.Outcome,
                Error = c.Error,
            });
            args[a++] = c.ClaimToken;
        }

        var raw = (RedisResult[])(await EvalAsync(RedisScripts.Complete, args))!;
        var effects = new CompletionEffect[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            effects[i] = (CompletionEffect)(int)raw[i];
        }

        return effects;
    }

    public async Task<IReadOnlyList<string>> RenewLeasesAsync(string owner, IReadOnlyList<string> jobIds, DateTimeOffset leaseUntil)
    {
        var args = new RedisValue[3 + jobIds.Count];
        args[0] = _prefix;
        args[1] = owner;
        args[2] = Ms(leaseUntil);
        for (var i = 0; i < jobIds.Count; i++)
        {
            args[3 + i] = jobIds[i];
        }

        var raw = (RedisResult[])(await EvalAsync(RedisScripts.Renew, args))!;
        return raw.Select(r => (string)r!).ToList();
    }

    public async Task<int> RequeueOwnerAsync(string owner, DateTimeOffset now, string reason, bool countAttempt) =>
        (int)await EvalAsync(RedisScripts.RequeueOwner, [_prefix, owner, Ms(now), reason, countAttempt ? "1" : "0"]);

    public async Task<IReadOnlyList<string>> GetOwnersAsync() =>
        (await Db.SetMembersAsync(_prefixText + ":owners")).Select(v => (string)v!).ToList();

    public async Task<int> RequeueExpiredAsync(DateTimeOffset now) =>
        (int)await EvalAsync(RedisScripts.RequeueExpired, [_prefix, Ms(now), "The attempt's lease expired: its silo stopped renewing it."]);

    public async Task<(int Promoted, DateTimeOffset? NextDue)> PromoteDueAsync(DateTimeOffset now, int max)
    {
        var raw = (RedisResult[])(await EvalAsync(RedisScripts.Promote, [_prefix, Ms(now), max]))!;
        var next = (string?)raw[1];
        return ((int)raw[0], string.IsNullOrEmpty(next) ? null : FromMs((long)double.Parse(next, CultureInfo.InvariantCulture)));
    }

    public async Task<bool> TransferAsync(string jobId, int attempt, string fromOwner, string toOwner) =>
        (int)await EvalAsync(RedisScripts.Transfer, [_prefix, jobId, attempt, fromOwner, toOwner]) == 1;

    public Task ReportProgressAsync(string jobId, int attempt, JobProgress progress) =>
        EvalAsync(RedisScripts.Progress, [_prefix, jobId, attempt, progress.Percent, progress.Message ?? ""]);

    public async Task<JobView?> GetAsync(string id)
    {
        var entries = await Db.HashGetAllAsync(JobKey(id));
        return entries.Length == 0 ? null : ToView(entries);
    }

    public async Task<JobPage> ListAsync(JobListQuery query)
    {
        var cursor = ListCursor.Parse(query.Cursor);
        var raw = (RedisResult[])(await Db.ScriptEvaluateAsync(RedisScripts.List, values:
        [
            _prefix,
            query.State?.ToString() ?? "all",
            cursor is { } c ? c.Score : "+inf",
            cursor?.Id ?? "",
            query.Limit,
            Math.Max(query.Limit * 20, 2000),
            query.Queue ?? "",
            query.Type ?? "",
        ]))!;
        var ids = raw.Take(raw.Length - 1).Select(r => (string)r!).ToList();
        var next = NullIfEmpty((string?)raw[^1]);
        var batch = Db.CreateBatch();
        var reads = ids.Select(id => batch.HashGetAllAsync(JobKey(id))).ToList();
        batch.Execute();
        var items = new List<JobView>(ids.Count);
        foreach (var read in reads)
        {
            var entries = await read;
            if (entries.Length > 0)
            {
                items.Add(ToView(entries));
            }
        }

        return new JobPage(items, next);
    }

    public async Task<JobCommandResult> CancelAsync(string id, DateTimeOffset now) =>
        await CommandAsync(RedisScripts.Cancel, id, [_prefix, id, Ms(now)], "only Queued, Scheduled or Running jobs can be cancelled");

    public async Task<JobCommandResult> RequeueAsync(string id, DateTimeOffset now) =>
        await CommandAsync(RedisScripts.Requeue, id, [_prefix, id, Ms(now)], "only DeadLettered or Cancelled jobs can be retried");

    public async Task<JobCommandResult> DeleteAsync(string id)
    {
        var result = await CommandAsync(RedisScripts.Delete, id, [_prefix, id], "only finished jobs can be deleted");
        return result.Status == JobCommandStatus.Ok ? result with { Job = null } : result;
    }

    public async Task<int> PurgeAsync(DateTimeOffset now, RetentionPolicy retention, int max) =>
        (int)await Db.ScriptEvaluateAsync(RedisScripts.Purge, values:
        [
            _prefix, max,
            nameof(JobState.Succeeded), Ms(now - retention.Succeeded),
            nameof(JobState.Cancelled), Ms(now - retention.Cancelled),
            nameof(JobState.DeadLettered), Ms(now - retention.DeadLettered),
        ]);

    public async Task<IReadOnlyDictionary<JobState, long>> CountByStateAsync()
    {
        var batch = Db.CreateBatch();
        var reads = JobStates.All.Select(s => (State: s, Count: batch.SortedSetLengthAsync($"{_prefixText}:idx:{s}"))).ToList();
        batch.Execute();
        var counts = new Dictionary<JobState, long>();
        foreach (var (state, count) in reads)
        {
            counts[state] = await count;
        }

        return counts;
    }

    public Task PingAsync(CancellationToken cancellationToken) => Db.PingAsync().WaitAsync(cancellationToken);

    public void Dispose() => _redis.GetSubscriber().Unsubscribe(_notify);

    private async Task<JobCommandResult> CommandAsync(string script, string id, RedisValue[] args, string rule)
    {
        var raw = (RedisResult[])(await EvalAsync(script, args))!;
        var status = (string)raw[0]!;
        var view = await GetAsync(id);
        return status switch
        {
            "NotFound" => new JobCommandResult(JobCommandStatus.NotFound, null),
            "Conflict" => new JobCommandResult(JobCommandStatus.Conflict, view, $"The job is {(string)raw[1]!}; {rule}."),
            _ => new JobCommandResult(JobCommandStatus.Ok, view),
        };
    }

    /// <summary>
    /// EVALSHA, falling back to EVAL (which also caches the script) when Redis answers NOSCRIPT — after a restart or
    /// SCRIPT FLUSH. Sending each script's text on every call cost Redis a SHA1 of a few KB per call.
    /// </summary>
    private async Task<RedisResult> EvalAsync(string script, RedisValue[] args)
    {
        var hash = ScriptHashes.GetOrAdd(script, static text => HashScript(text));
        try
        {
            return await Db.ScriptEvaluateAsync(hash, values: args);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await Db.ScriptEvaluateAsync(script, values: args);
        }
    }

#pragma warning disable CA5350 // SHA1 is what Redis names scripts by; it is not used for security here.
    private static byte[] HashScript(string text) => System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350

    private RedisKey JobKey(string id) => $"{_prefixText}:job:{id}";

    private static JobView ToView(HashEntry[] entries)
    {
        var f = new Dictionary<string, string>(entries.Length, StringComparer.Ordinal);
        foreach (var e in entries)
        {
            f[e.Name!] = e.Value!;
        }

        string? S(string name) => f.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        long? L(string name) => S(name) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : null;
        DateTimeOffset? T(string name) => L(name) is { } ms ? FromMs(ms) : null;

        var state = ParseState(S("state") ?? nameof(JobState.Queued));
        return new JobView
        {
            Id = S("id")!,
            Type = S("type")!,
            Queue = S("queue")!,
            Priority = (int)(L("pri") ?? 0),
            State = state,
            Attempt = (int)(L("attempt") ?? 0),
            MaxAttempts = (int)(L("maxAtt") ?? 0),
            Timeout = TimeSpan.FromMilliseconds(L("tmo") ?? 0),
            CreatedAt = T("created") ?? DateTimeOffset.UnixEpoch,
            RunAt = T("runAt"),
            StartedAt = T("started"),
            FinishedAt = state.IsFinished() ? T("finished") : null,
            Progress = L("progress") is { } pct ? new JobProgress((int)pct, S("progMsg")) : null,
            Result = S("result"),
            LastError = S("errT") is { } et ? new JobError(et, S("errM") ?? "") : null,
            TraceId = TraceContext.TraceIdOf(S("tp")),
            Payload = S("payload"),
            Attempts = StoredAttempt.DeserializeList(S("attempts")),
            CancelRequested = S("cancel") == "1",
            Silo = state == JobState.Running ? S("owner") : null,
        };
    }

    private static JobState ParseState(string state) => Enum.Parse<JobState>(state);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static long Ms(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}

/// <summary>The compact JSON form of an attempt in the job hash (also written by the Lua scripts).</summary>
internal static class StoredAttempt
{
    public static string Serialize(JobAttempt attempt)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("n", attempt.Number);
            w.WriteNumber("s", attempt.StartedAt.ToUnixTimeMilliseconds());
            if (attempt.EndedAt is { } ended)
            {
                w.WriteNumber("e", ended.ToUnixTimeMilliseconds());
            }

            w.WriteString("silo", attempt.Silo);
            w.WriteString("o", attempt.Outcome.ToString());
            if (attempt.Error is { } error)
            {
                w.WriteString("et", error.Type);
                w.WriteString("em", error.Message);
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    public static IReadOnlyList<JobAttempt> DeserializeList(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return [];
        }

        using var doc = JsonDocument.Parse(json);
        var list = new List<JobAttempt>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            list.Add(new JobAttempt
            {
                Number = e.GetProperty("n").GetInt32(),
                StartedAt = DateTimeOffset.FromUnixTimeMilliseconds((long)e.GetProperty("s").GetDouble()),
                EndedAt = e.TryGetProperty("e", out var ended) ? DateTimeOffset.FromUnixTimeMilliseconds((long)ended.GetDouble()) : null,
                Silo = e.TryGetProperty("silo", out var silo) ? silo.GetString() : null,
                Outcome = Enum.Parse<AttemptOutcome>(e.GetProperty("o").GetString()!),
                Error = e.TryGetProperty("et", out var et) ? new JobError(et.GetString()!, e.TryGetProperty("em", out var em) ? em.GetString() ?? "" : "") : null,
            });
        }

        return list;
    }
}
