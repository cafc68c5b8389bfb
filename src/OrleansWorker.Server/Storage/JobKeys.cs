using System.Globalization;

namespace OrleansWorker.Storage;

/// <summary>
/// The key layout. Every key of a job and of the queues it sits in carries the hash tag of its shard
/// (<c>{P:s}</c>), so that one script never touches two Redis Cluster slots; a few cluster-wide keys carry
/// <c>{P}</c>. A job's shard is a stable hash of its id, or of the part of the id before <c>::</c> when there is one,
/// so that related jobs (a schedule's fires, a batch's members) can share a shard by name.
/// </summary>
/// <remarks>
/// Per shard: <c>:j:{id}</c> job hash · <c>:r:{queue}</c> ready zset (score 1000 − priority, member = 16 hex digits
/// of sequence + id, so equal priorities pop first-in first-out) · <c>:sch</c> scheduled zset (due ms) ·
/// <c>:wait</c> jobs waiting for dependencies (created ms) · <c>:f:{state}:{queue}</c> finished jobs (finish ms) ·
/// <c>:all</c> every job (created ms) · <c>:own</c> owners' leases (ms) · <c>:run:{owner}</c> ids an owner claimed
/// (cleaned lazily) · <c>:cx:{owner}</c> cancellations for an owner · <c>:rev</c> revoked owners (revocation ms) ·
/// <c>:paused</c> paused queues. Cluster-wide: <c>{P}:queues</c> queue registry; channel <c>{P}:n</c>.
/// </remarks>
internal sealed class JobKeys
{
    private readonly string[] _tags;

    public JobKeys(string prefix, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        Prefix = prefix;
        Shards = shards;
        _tags = Enumerable.Range(0, shards).Select(s => string.Create(CultureInfo.InvariantCulture, $"{{{prefix}:{s}}}")).ToArray();
        Queues = $"{{{prefix}}}:queues";
        Silos = $"{{{prefix}}}:silos";
        Channel = $"{{{prefix}}}:n";
    }

    public string Prefix { get; }

    public int Shards { get; }

    public string Queues { get; }

    /// <summary>Hash: silo address → its last report (JSON).</summary>
    public string Silos { get; }

    public string Channel { get; }

    /// <summary>The shard of a job id: FNV-1a of the id (or of its part before <c>::</c>) modulo the shard count.</summary>
    public int ShardOf(string id)
    {
        if (Shards == 1)
        {
            return 0;
        }

        var end = id.IndexOf("::", StringComparison.Ordinal);
        var span = end > 0 ? id.AsSpan(0, end) : id.AsSpan();
        var hash = 2166136261u;
        foreach (var c in span)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)Shards);
    }

    public string JobPrefix(int shard) => _tags[shard] + ":j:";

    public string Job(string id) => JobPrefix(ShardOf(id)) + id;

    public string Ready(int shard, string queue) => _tags[shard] + ":r:" + queue;

    public string Scheduled(int shard) => _tags[shard] + ":sch";

    public string Waiting(int shard) => _tags[shard] + ":wait";

    public string Finished(int shard, JobState state, string queue) => $"{_tags[shard]}:f:{state}:{queue}";

    public string All(int shard) => _tags[shard] + ":all";

    public string Owners(int shard) => _tags[shard] + ":own";

    public string Run(int shard, string owner) => _tags[shard] + ":run:" + owner;

    public string Cancels(int shard, string owner) => _tags[shard] + ":cx:" + owner;

    public string Revoked(int shard) => _tags[shard] + ":rev";

    public string Paused(int shard) => _tags[shard] + ":paused";

    /// <summary>Set: the jobs that wait for job <paramref name="id"/>.</summary>
    public string Dependents(int shard, string id) => _tags[shard] + ":dep:" + id;

    /// <summary>Set: the jobs job <paramref name="id"/> still waits for.</summary>
    public string Pending(int shard, string id) => _tags[shard] + ":pend:" + id;

    /// <summary>Hash: a batch (total, completion job, state).</summary>
    public string Batch(int shard, string id) => _tags[shard] + ":b:" + id;

    /// <summary>Set: a batch's members that ended in <paramref name="state"/>.</summary>
    public string BatchMembers(int shard, string id, JobState state) => $"{_tags[shard]}:b:{id}:{state}";

    /// <summary>Sorted set: batches not finished yet (created ms).</summary>
    public string OpenBatches(int shard) => _tags[shard] + ":bopen";

    /// <summary>Hash: a recurring job (definition, next and last fire, token).</summary>
    public string Schedule(int shard, string id) => _tags[shard] + ":sd:" + id;

    /// <summary>Sorted set: active schedules by next tick (ms).</summary>
    public string ScheduleDue(int shard) => _tags[shard] + ":sdue";

    /// <summary>Sorted set: every schedule (created ms).</summary>
    public string Schedules(int shard) => _tags[shard] + ":sall";

    /// <summary>Hash of a shard: unique key → the id of the job that holds it.</summary>
    public string Unique(int shard) => _tags[shard] + ":uniq";

    /// <summary>Hash of a queue's concurrency permits: owner → permits held (the queue's own slot).</summary>
    public string Permits(string queue) => $"{{{Prefix}:q:{queue}}}:lim";

    /// <summary>Sorted set of a queue's recent starts (its rate window; the queue's own slot).</summary>
    public string Window(string queue) => $"{{{Prefix}:q:{queue}}}:rate";

    /// <summary>The ready-set member of a job: its sequence as 16 hex digits, then its id.</summary>
    public static string ReadyMember(long seq, string id) => string.Create(CultureInfo.InvariantCulture, $"{seq:x16}{id}");

    /// <summary>The ready-set score: higher priority pops first.</summary>
    public static double ReadyScore(int priority) => 1000 - priority;

    /// <summary>The shard tag of a key, for grouping units by shard (<c>{P:s}</c> → s).</summary>
    public static string TagOf(string key)
    {
        var close = key.IndexOf('}', StringComparison.Ordinal);
        return close > 0 && key[0] == '{' ? key[..(close + 1)] : key;
    }
}

/// <summary>Field names of the job hash, and the field lists the store reads.</summary>
internal static class JobFields
{
    public const string Id = "id", Type = "type", Queue = "queue", Priority = "pri", Seq = "seq", Payload = "payload",
        MaxAttempts = "maxAtt", MaxInterruptions = "maxIntr", Timeout = "tmo", Created = "created", TraceParent = "tp",
        State = "state", Since = "since", Attempt = "att", Interruptions = "intr", RunAt = "runAt", Started = "started",
        Finished = "fin", Owner = "owner", Token = "tok", Cancel = "cancel", Progress = "prog", ProgressMessage = "progMsg",
        Result = "result", ErrorType = "errT", ErrorMessage = "errM", History = "hist", Succeeded = "ok", LastInterruptedToken = "intrTok", UniqueKey = "uniq", UniqueFor = "uniqFor",
        DependsOn = "deps", ContinueOnFailure = "depCont", HasDependents = "hasDeps", ScheduleId = "sched", BatchId = "batch";

    /// <summary>The compact layout's definition field (see <see cref="JobDefinition"/>).</summary>
    public const string Definition = "def";

    /// <summary>What a claim returns of each job, after its new attempt number.</summary>
    public static readonly string[] Claimed = [Definition, Payload, Since, TraceParent, Interruptions, BatchId, HasDependents];

    /// <summary>
    /// What decisions about a job need (see <see cref="JobSnapshot"/>), with <see cref="Definition"/>; a running job's
    /// time is <see cref="Started"/> (store layout 3 writes no <see cref="Since"/> at claim).
    /// </summary>
    public static readonly string[] Snapshot = [Definition, State, Token, Attempt, Interruptions, Owner, Cancel, RunAt, Finished, Since, BatchId, HasDependents, ContinueOnFailure, Started, DependsOn, UniqueKey];

    /// <summary>The fields of a definition as earlier versions store it (read when <see cref="Definition"/> is absent).</summary>
    public static readonly string[] Legacy = [Type, Queue, Priority, Seq, MaxAttempts, MaxInterruptions, Timeout, Created];
}

/// <summary>Sequence numbers for first-in first-out order: milliseconds since the epoch × 4096 + a counter, never repeating in a process.</summary>
internal sealed class SequenceGenerator(TimeProvider time)
{
    private long _last;

    public long Next(int count = 1)
    {
        var candidate = time.GetUtcNow().ToUnixTimeMilliseconds() << 12;
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var first = Math.Max(candidate, last + 1);
            if (Interlocked.CompareExchange(ref _last, first + count - 1, last) == last)
            {
                return first;
            }
        }
    }
}

/// <summary>Fencing tokens: random, below 2^46 so that Lua's number formatting keeps every digit.</summary>
internal static class Tokens
{
    public const long Limit = 1L << 46;

    public static long Next() => Random.Shared.NextInt64(1, Limit - 1_000_000);

    public static string Text(long token) => token.ToString(CultureInfo.InvariantCulture);
}
