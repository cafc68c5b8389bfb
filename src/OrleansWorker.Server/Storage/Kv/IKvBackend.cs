namespace OrleansWorker.Storage.Kv;

/// <summary>Where the jobs live and how safe they are there; logged at start and shown in <c>/health</c>.</summary>
/// <param name="Engine">"redis" or "embedded".</param>
/// <param name="Location">The Redis endpoints, or the embedded database file.</param>
/// <param name="Durability">What survives what, in words.</param>
/// <param name="Exclusive">True when no other process can reach the data (the embedded engine locks its directory).</param>
internal sealed record KvDescription(string Engine, string Location, string Durability, bool Exclusive);

/// <summary>A setting of the engine's server that puts jobs at risk.</summary>
/// <param name="Where">The server (an endpoint).</param>
/// <param name="Setting">The setting, as the server names it.</param>
/// <param name="Value">Its value there.</param>
/// <param name="Risk">What it can cost, and what to set instead.</param>
internal sealed record KvSettingWarning(string Where, string Setting, string Value, string Risk);

/// <summary>
/// An engine that keeps the job store's data: hashes, sorted sets and sets under string keys, written only through
/// guarded <see cref="KvUnit"/>s and the claim, read through <see cref="IKvReadBatch"/>. Implemented by redis-server
/// (Lua) and by the embedded engine (SQLite); the same contract tests run on both.
/// </summary>
internal interface IKvBackend : IAsyncDisposable
{
    KvDescription Description { get; }

    /// <summary>
    /// Whether fewer, larger write calls are cheaper, with nothing else waiting behind a long one: true for the embedded
    /// engine (each call is a transaction that commits, and syncs, on its own; one process reaches it). Redis runs one
    /// script at a time for every silo, so a long call holds up their claims and outcomes: false.
    /// </summary>
    bool PrefersLargeCalls => false;

    /// <summary>Raised (on any thread) for every message published on <see cref="Channel"/>.</summary>
    event Action<string>? Message;

    /// <summary>The channel the store publishes on and listens to.</summary>
    string Channel { get; }

    /// <summary>Applies units atomically each, in order; every key of the call shares one shard.</summary>
    Task<KvResult[]> ApplyAsync(IReadOnlyList<KvUnit> units);

    /// <summary>Runs a claim (atomic); every key of it shares one shard.</summary>
    Task<KvClaimResult> ClaimAsync(KvClaim claim, IReadOnlyList<string> fields);

    /// <summary>
    /// Takes up to <paramref name="want"/> of the <paramref name="limit"/> permits counted in hash <paramref name="key"/>
    /// (field per holder, value = permits held) for <paramref name="holder"/>, atomically; returns how many it got.
    /// </summary>
    Task<int> AcquirePermitsAsync(string key, string holder, int want, int limit);

    /// <summary>
    /// A sliding-window log in sorted set <paramref name="key"/>: drops entries older than <paramref name="periodMs"/>,
    /// then adds up to <paramref name="want"/> entries at <paramref name="nowMs"/> (named <c>{memberPrefix}:{i}</c>)
    /// while fewer than <paramref name="limit"/> remain; returns how many it added and, when none, when the oldest
    /// entry leaves the window (ms).
    /// </summary>
    Task<(int Granted, long NextMs)> AcquireWindowAsync(string key, string memberPrefix, int want, int limit, long nowMs, long periodMs);

    /// <summary>A batch of reads sent together (pipelined), answered by <see cref="IKvReadBatch.ExecuteAsync"/>.</summary>
    IKvReadBatch CreateReadBatch();

    /// <summary>Throws when the engine cannot be reached.</summary>
    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The engine's own clock: the clock of <see cref="KvGuardCode.ClockAtMost"/> (redis-server's <c>TIME</c>), read on
    /// the server that holds <paramref name="key"/>, so that every silo reads the same node's clock in a Redis Cluster.
    /// </summary>
    Task<DateTimeOffset> ClockAsync(string key);

    /// <summary>
    /// Settings of the engine's server that can lose jobs (none for an engine the worker configures itself). Servers
    /// that cannot be reached are skipped: this is advice at start, not a health check.
    /// </summary>
    Task<IReadOnlyList<KvSettingWarning>> SettingsWarningsAsync() => Task.FromResult<IReadOnlyList<KvSettingWarning>>([]);
}

/// <summary>Reads queued together; each task completes when <see cref="ExecuteAsync"/> has run.</summary>
internal interface IKvReadBatch
{
    /// <summary>Every field of a hash (empty when the key does not exist).</summary>
    Task<Dictionary<string, string>> HashGetAll(string key);

    /// <summary>The named fields of a hash, null where absent.</summary>
    Task<string?[]> HashGet(string key, IReadOnlyList<string> fields);

    /// <summary>Members with scores in [min, max] (ascending, or descending with <paramref name="descending"/>), skipping and taking.</summary>
    Task<KvScored[]> RangeByScore(string key, double min, double max, bool descending, int skip, int take);

    /// <summary>Members by rank (ascending), from <paramref name="start"/>, at most <paramref name="take"/>.</summary>
    Task<KvScored[]> RangeByRank(string key, long start, int take);

    Task<long> SortedSetLength(string key);

    Task<double?> Score(string key, string member);

    Task<string[]> SetMembers(string key);

    Task<long> SetLength(string key);

    /// <summary>Sends every queued read; the tasks above complete (or fault) after it.</summary>
    Task ExecuteAsync();
}

/// <summary>A sorted-set member and its score.</summary>
internal readonly record struct KvScored(string Member, double Score);
