using System.Globalization;

namespace OrleansWorker.Storage.Kv;

/// <summary>A precondition of a <see cref="KvUnit"/>. The unit applies only if every guard holds.</summary>
internal enum KvGuardCode
{
    /// <summary>Hash field equals the value (empty string: the field is absent). Fails with the field's value.</summary>
    FieldEquals,

    /// <summary>Hash field differs from the value. Fails with the field's value.</summary>
    FieldNotEquals,

    /// <summary>The key does not exist. Fails with the value of the named field of the existing hash.</summary>
    KeyAbsent,

    /// <summary>The engine's own clock (ms since the epoch) is at most the value. Fails with the clock.</summary>
    ClockAtMost,

    /// <summary>The member is in the sorted set with a score at most the value. Fails with the score ("" when absent).</summary>
    ScoreAtMost,

    /// <summary>The member is in the sorted set. Fails with "".</summary>
    MemberExists,

    /// <summary>The member is not in the sorted set. Fails with its score.</summary>
    MemberAbsent,

    /// <summary>
    /// The unique key (A) in the hash is free: not held by a job (job key prefix and the clock in ms, newline-separated,
    /// in B) that is unfinished, or finished less than its own <c>uniqFor</c> (ms) ago. Fails with <c>{holder id}|{its state}</c>.
    /// </summary>
    UniqueFree,
}

/// <summary>A write of a <see cref="KvUnit"/>.</summary>
internal enum KvWriteCode
{
    /// <summary>Sets hash fields: args are field, value pairs.</summary>
    HashSet,

    /// <summary>Deletes hash fields: args are field names.</summary>
    HashDelete,

    /// <summary>Adds an integer to a hash field: args are field, delta.</summary>
    HashIncrement,

    /// <summary>Appends a JSON value to the JSON array held in a hash field: args are field, JSON.</summary>
    HashAppend,

    /// <summary>Adds or re-scores a sorted-set member: args are score, member.</summary>
    SortedSetAdd,

    /// <summary>Removes sorted-set members: args are members.</summary>
    SortedSetRemove,

    /// <summary>Adds set members: args are members.</summary>
    SetAdd,

    /// <summary>Removes set members: args are members.</summary>
    SetRemove,

    /// <summary>Deletes the key, whatever its type.</summary>
    Delete,

    /// <summary>Publishes a message once the unit applies: args are channel, message (no key).</summary>
    Publish,

    /// <summary>
    /// Forgets ended attempts' job ids from an owner's run set: args are the job key prefix, the owner, then the ids. An
    /// id whose job is <c>Running</c> under that owner stays: that owner claimed the job again since (a new attempt), or
    /// the attempt's outcome never landed; either way the run set is how recovery finds the job.
    /// </summary>
    RunSetForget,
}

internal readonly record struct KvGuard(KvGuardCode Code, string? Key, string A, string B);

internal readonly record struct KvWrite(KvWriteCode Code, string? Key, string[] Args);

/// <summary>
/// The persistence primitive every engine implements: guards, then writes, applied atomically. Units of one call are
/// independent (one failing guard skips only its own unit) and all their keys share one shard.
/// </summary>
/// <remarks>
/// Rules never live here: the engine decides what a job's next state is (<c>JobRules</c>), the store turns that into
/// units (<c>JobStore</c>), and a unit only says "if these facts still hold, write this". That is the shape of
/// Hangfire's <c>IWriteOnlyTransaction</c> with optimistic guards in place of distributed locks.
/// </remarks>
internal sealed class KvUnit
{
    private readonly List<KvGuard> _guards = new(2);
    private readonly List<KvWrite> _writes = new(6);

    public IReadOnlyList<KvGuard> Guards => _guards;

    public IReadOnlyList<KvWrite> Writes => _writes;

    public KvUnit FieldEquals(string key, string field, string value) => Guard(KvGuardCode.FieldEquals, key, field, value);

    public KvUnit FieldNotEquals(string key, string field, string value) => Guard(KvGuardCode.FieldNotEquals, key, field, value);

    public KvUnit KeyAbsent(string key, string reportField) => Guard(KvGuardCode.KeyAbsent, key, reportField, "");

    public KvUnit ClockAtMost(long ms) => Guard(KvGuardCode.ClockAtMost, null, Num(ms), "");

    public KvUnit ScoreAtMost(string key, string member, long score) => Guard(KvGuardCode.ScoreAtMost, key, member, Num(score));

    public KvUnit MemberExists(string key, string member) => Guard(KvGuardCode.MemberExists, key, member, "");

    public KvUnit MemberAbsent(string key, string member) => Guard(KvGuardCode.MemberAbsent, key, member, "");

    /// <summary>
    /// The unique key is free: no job holds it, or its holder finished longer than its <c>uniqueFor</c> ago, or the holder
    /// is <paramref name="self"/> (a job that asks for its own key again: a requeue).
    /// </summary>
    public KvUnit UniqueFree(string hashKey, string uniqueKey, string jobKeyPrefix, long nowMs, string? self = null) =>
        Guard(KvGuardCode.UniqueFree, hashKey, uniqueKey, self is null ? $"{jobKeyPrefix}\n{Num(nowMs)}" : $"{jobKeyPrefix}\n{Num(nowMs)}\n{self}");

    public KvUnit HashSet(string key, params string[] fieldValues)
    {
        if (fieldValues.Length == 0 || fieldValues.Length % 2 != 0)
        {
            throw new ArgumentException("HashSet takes field/value pairs.", nameof(fieldValues));
        }

        return Write(KvWriteCode.HashSet, key, fieldValues);
    }

    public KvUnit HashDelete(string key, params string[] fields) => fields.Length == 0 ? this : Write(KvWriteCode.HashDelete, key, fields);

    public KvUnit HashIncrement(string key, string field, long delta) => Write(KvWriteCode.HashIncrement, key, [field, Num(delta)]);

    public KvUnit HashAppend(string key, string field, string json) => Write(KvWriteCode.HashAppend, key, [field, json]);

    public KvUnit SortedSetAdd(string key, double score, string member) => Write(KvWriteCode.SortedSetAdd, key, [Num(score), member]);

    public KvUnit SortedSetRemove(string key, params string[] members) => members.Length == 0 ? this : Write(KvWriteCode.SortedSetRemove, key, members);

    public KvUnit SetAdd(string key, params string[] members) => members.Length == 0 ? this : Write(KvWriteCode.SetAdd, key, members);

    public KvUnit SetRemove(string key, params string[] members) => members.Length == 0 ? this : Write(KvWriteCode.SetRemove, key, members);

    /// <summary>See <see cref="KvWriteCode.RunSetForget"/>.</summary>
    public KvUnit RunSetForget(string runKey, string jobKeyPrefix, string owner, IReadOnlyCollection<string> jobIds) =>
        jobIds.Count == 0 ? this : Write(KvWriteCode.RunSetForget, runKey, [jobKeyPrefix, owner, .. jobIds]);

    public KvUnit Delete(string key) => Write(KvWriteCode.Delete, key, []);

    public KvUnit Publish(string channel, string message) => Write(KvWriteCode.Publish, null, [channel, message]);

    /// <summary>Every key the unit touches (guards and writes), for routing and for checking they share a shard.</summary>
    public IEnumerable<string> Keys()
    {
        foreach (var g in _guards)
        {
            if (g.Key is not null)
            {
                yield return g.Key;
            }
        }

        foreach (var w in _writes)
        {
            if (w.Key is not null)
            {
                yield return w.Key;
            }
        }
    }

    public static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private KvUnit Guard(KvGuardCode code, string? key, string a, string b)
    {
        if (_writes.Count > 0)
        {
            throw new InvalidOperationException("Guards come before writes in a unit.");
        }

        _guards.Add(new KvGuard(code, key, a, b));
        return this;
    }

    private KvUnit Write(KvWriteCode code, string? key, string[] args)
    {
        _writes.Add(new KvWrite(code, key, args));
        return this;
    }
}

/// <summary>The outcome of one unit: applied, or the 1-based index of the guard that failed and the value it saw.</summary>
internal readonly record struct KvResult(int FailedGuard, string Value)
{
    public static readonly KvResult Applied = new(0, "");

    public bool IsApplied => FailedGuard == 0;
}

/// <summary>One queue of a claim: pop up to <see cref="Max"/> ready jobs from <see cref="ReadyKey"/>.</summary>
internal sealed record KvClaimQueue(string Queue, string ReadyKey, int Max);

/// <summary>
/// The claim, the one compound primitive (it must read what it pops in the same atomic step): pop ready members
/// (<c>16 hex digits of sequence + job id</c>) queue by queue, skip paused queues and members whose job is no longer
/// <c>Queued</c>, mark each job Running for <see cref="Owner"/> with a fresh token (and <c>started</c>, and
/// <c>since</c> as well when <see cref="WriteSince"/>: what store layouts 1 and 2 read), and record the owner's lease.
/// Refused (<see cref="KvClaimResult.Revoked"/>) when the owner was revoked. First it forgets the <see cref="Finished"/>
/// ids from the run set as <see cref="KvWriteCode.RunSetForget"/> does.
/// </summary>
internal sealed record KvClaim(
    string JobKeyPrefix,
    string OwnersKey,
    string RunKey,
    string RevokedKey,
    string PausedKey,
    string Owner,
    long NowMs,
    long LeaseUntilMs,
    long TokenBase,
    int Max,
    IReadOnlyList<KvClaimQueue> Queues,
    IReadOnlyList<string> Finished,
    bool WriteSince);

/// <summary>What a claim returns of each job (in <see cref="JobFields.Claimed"/> order).</summary>
internal sealed record KvClaimResult(bool Revoked, IReadOnlyList<KvClaimedJob> Jobs)
{
    public static readonly KvClaimResult RevokedOwner = new(true, []);
}

/// <summary>A claimed job: its id, queue, new token, and the values of <see cref="JobFields.Claimed"/>.</summary>
internal sealed record KvClaimedJob(string Id, string Queue, long Token, string?[] Fields);
