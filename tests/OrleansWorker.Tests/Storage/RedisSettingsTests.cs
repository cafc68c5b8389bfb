using OrleansWorker.Execution;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansWorker.Tests.Storage;

/// <summary>
/// What Redis' own settings do to jobs: the start-up advice about a Redis that can lose them (the silo logs each warning
/// once, at start), a full Redis, and compact job hashes. Each test has a redis-server of its own, changed with CONFIG SET.
/// </summary>
public sealed class RedisSettingsTests : IAsyncLifetime
{
    private RedisServer _server = null!;
    private ConnectionMultiplexer _worker = null!;
    private ConnectionMultiplexer _admin = null!;

    /// <summary>The server's console: CONFIG needs admin mode, which the worker's own connection does not have.</summary>
    private IServer Admin => _admin.GetServer(_admin.GetEndPoints()[0]);

    public async Task InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        _worker = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        _admin = await ConnectionMultiplexer.ConnectAsync($"{_server.ConnectionString},allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        await _admin.DisposeAsync();
        await _worker.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task ARedisThatCanLoseJobs_IsNamed_WithTheSettingAndWhatToSetInstead()
    {
        await using var backend = new RedisKvBackend(_worker, "{settings}:n");

        // The tests' redis-server: append-only file on, maxmemory-policy at its default (noeviction).
        Assert.Empty(await backend.SettingsWarningsAsync());

        await Admin.ConfigSetAsync("maxmemory-policy", "allkeys-lru");
        await Admin.ConfigSetAsync("appendonly", "no");

        var warnings = (await backend.SettingsWarningsAsync()).OrderBy(w => w.Setting, StringComparer.Ordinal).ToList();
        Assert.Equal(["appendonly", "maxmemory-policy"], warnings.Select(w => w.Setting));
        Assert.All(warnings, w => Assert.Equal(_server.ConnectionString, w.Where));
        Assert.Equal("no", warnings[0].Value);
        Assert.Contains("appendonly yes", warnings[0].Risk, StringComparison.Ordinal);
        Assert.Equal("allkeys-lru", warnings[1].Value);
        Assert.Contains("maxmemory-policy noeviction", warnings[1].Risk, StringComparison.Ordinal);

        // A volatile-* policy deletes only keys with a TTL: of ours, the rate-limit windows.
        await Admin.ConfigSetAsync("maxmemory-policy", "volatile-lru");
        var volatileOnly = Assert.Single(await backend.SettingsWarningsAsync(), w => w.Setting == "maxmemory-policy");
        Assert.Equal("volatile-lru", volatileOnly.Value);
        Assert.Contains("rate limit", volatileOnly.Risk, StringComparison.Ordinal);

        // Set right again, the advice goes away.
        await Admin.ConfigSetAsync("maxmemory-policy", "noeviction");
        await Admin.ConfigSetAsync("appendonly", "yes");
        Assert.Empty(await backend.SettingsWarningsAsync());
    }

    [Fact]
    public async Task ARedisAtItsMemoryLimit_RefusesNewJobs_AsAnOutage_AndKeepsEveryJobItHas()
    {
        await using var store = new JobStore(new RedisKvBackend(_worker, "{full}:n"), "full", 1);
        var now = DateTimeOffset.UtcNow;
        NewJob Job(string id) => new(id, "noop", "default", 0, null, 3, TimeSpan.FromSeconds(5), null, now, null);
        await store.InsertAsync([Job("kept")]);
        Assert.NotNull(await store.GetAsync("kept"));

        // noeviction (the default) with a limit below what Redis holds: every write is refused with OOM.
        await Admin.ConfigSetAsync("maxmemory", "1");
        var refused = await Assert.ThrowsAnyAsync<RedisServerException>(() => store.InsertAsync([Job("refused")]));
        Assert.StartsWith("OOM", refused.Message, StringComparison.Ordinal);
        Assert.True(StoreFailures.IsUnavailable(refused), "a full Redis is an outage (503, retried), not a bug (500)");
        Assert.NotNull(await store.GetAsync("kept"));
        Assert.Null(await store.GetAsync("refused"));

        // Room again: the same submission goes through.
        await Admin.ConfigSetAsync("maxmemory", "0");
        Assert.True((await store.InsertAsync([Job("refused")]))[0]!.Created);
        Assert.NotNull(await store.GetAsync("kept"));
    }

    [Fact]
    public async Task ASucceededJob_StaysACompactHash_UnderRedisDefaultLimits()
    {
        await using var store = new JobStore(new RedisKvBackend(_worker, "{compact}:n"), "compact", 1);
        var now = DateTimeOffset.UtcNow;
        await store.InsertAsync([new NewJob("done", "noop", "default", 0, null, 3, TimeSpan.FromSeconds(5), null, now, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]);
        var claim = (await store.ClaimAsync(0, "127.0.0.1:11111@154883790/1", 10, [("default", 10)], now, now.AddSeconds(10), [])).Attempts.Single();
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(store, claim, new AttemptEnd(AttemptOutcome.Succeeded), now.AddMilliseconds(40))).Outcome);
        Assert.Equal(JobState.Succeeded, (await store.GetAsync("done"))!.State);

        // Redis keeps a hash compact (listpack) while every value is at most 64 bytes (hash-max-listpack-value): a
        // finished job then takes ≈ 850 B of Redis memory instead of ≈ 1,940 B as a hash table.
        var key = (RedisKey)"{compact:0}:j:done";
        Assert.True(await _worker.GetDatabase().KeyExistsAsync(key), $"the job's hash is {key}");
        Assert.Equal("listpack", (string?)await _worker.GetDatabase().ExecuteAsync("OBJECT", "ENCODING", key));
    }
}
