using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansWorker.Tests.Storage;

/// <summary>
/// The Redis engine sends a call whose units all have the shape of an insert (with or without a deadline) or of an attempt's success through a
/// compact script (<see cref="RedisLua.Records"/>), and every other call through the generic one. Both must leave Redis
/// in the same state and answer the same: each scenario runs twice on a real redis-server, once as it is (compact) and
/// once with a unit of another shape added (generic), and the results and every key are compared.
/// </summary>
public sealed class RedisRecordFormTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly ConnectionMultiplexer _redis = redis.Connection;

    /// <summary>This test's key prefixes (one slot each): the scenario as it is, and forced through the generic script.</summary>
    private readonly string _compact = $"{{c{Guid.NewGuid():N}}}:", _generic = $"{{g{Guid.NewGuid():N}}}:";

    [Fact]
    public async Task Inserts_SomeOfExistingKeys_ApplyAndAnswerAsTheGenericScriptDoes()
    {
        static List<KvUnit> Inserts(string p) =>
        [
            Insert(p, "a", 5), Insert(p, "b", 6), new KvUnit().Publish("{chan}", "r|default"), Insert(p, "c", 7),
        ];

        var (compact, generic) = await RunBothAsync(Inserts, seed: async (db, p) => await db.HashSetAsync(p + "j:b", [new("state", "Running"), new("tok", "41")]));

        // The precondition: the scenario has a unit that applies and one that does not.
        Assert.True(compact[0].IsApplied);
        Assert.Equal(new KvResult(1, "Running"), compact[1]);
        Assert.Equal(generic, compact);
        await AssertSameDataAsync(["j:a", "j:b", "j:c"], ["ready", "all"]);
    }

    [Fact]
    public async Task InsertsWithADeadline_SomePastItOrOfExistingKeys_ApplyAndAnswerAsTheGenericScriptDoes()
    {
        // What every submission stores: each job guarded by the submission's deadline (by Redis' clock), then by its key
        // being free. Submissions grouped into one call carry deadlines of their own.
        var future = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeMilliseconds();
        var past = DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds();
        List<KvUnit> Inserts(string p) =>
        [
            Insert(p, "a", 5, notAfter: future), Insert(p, "b", 6, notAfter: past), new KvUnit().Publish("{chan}", "r|default"),
            Insert(p, "c", 7, notAfter: future + 1), Insert(p, "d", 8, notAfter: future),
        ];

        var (compact, generic) = await RunBothAsync(Inserts, seed: async (db, p) => await db.HashSetAsync(p + "j:c", [new("state", "Running"), new("tok", "41")]));

        // The precondition: one unit applies, one is past its deadline (failing with Redis' clock, which moved on
        // between the two runs), one finds its key taken.
        Assert.True(compact[0].IsApplied);
        Assert.Equal(1, compact[1].FailedGuard);
        Assert.InRange(long.Parse(compact[1].Value, System.Globalization.CultureInfo.InvariantCulture), past + 1, future);
        Assert.Equal(new KvResult(2, "Running"), compact[3]);
        Assert.True(compact[4].IsApplied);
        static KvResult WithoutClock(KvResult r) => r.FailedGuard == 1 ? r with { Value = "clock" } : r;
        Assert.Equal(generic.Select(WithoutClock), compact.Select(WithoutClock));
        await AssertSameDataAsync(["j:a", "j:c", "j:d"], ["ready", "all"]);
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(_compact + "j:b"));
    }

    [Fact]
    public async Task Successes_WithAStaleTokenOrACancellation_ApplyAndAnswerAsTheGenericScriptDoes()
    {
        static List<KvUnit> Successes(string p) =>
        [
            Success(p, "a", token: "1"), Success(p, "b", token: "2"), Success(p, "c", token: "3"), new KvUnit().Publish("{chan}", "r|default"),
        ];

        var (compact, generic) = await RunBothAsync(Successes, seed: async (db, p) =>
        {
            await db.HashSetAsync(p + "j:a", [new("state", "Running"), new("tok", "1"), new("owner", "o1")]);
            await db.HashSetAsync(p + "j:b", [new("state", "Running"), new("tok", "9")]);
            await db.HashSetAsync(p + "j:c", [new("state", "Running"), new("tok", "3"), new("cancel", "1")]);
        });

        Assert.Equal([KvResult.Applied, new KvResult(1, "9"), new KvResult(2, "1"), KvResult.Applied], compact);
        Assert.Equal(generic, compact);
        await AssertSameDataAsync(["j:a", "j:b", "j:c"], ["fin"]);
    }

    [Fact]
    public async Task ATokenGuardAlone_AppliesAsTheGenericScriptDoes()
    {
        static List<KvUnit> Moves(string p) =>
        [
            new KvUnit().FieldEquals(p + "j:a", "tok", "1").HashSet(p + "j:a", "state", "Queued", "tok", "2").SortedSetAdd(p + "ready", 0, "a").Publish("{chan}", "r|default"),
            new KvUnit().FieldEquals(p + "j:b", "tok", "5").HashSet(p + "j:b", "state", "Queued").SortedSetAdd(p + "ready", 0, "b"),
        ];

        var (compact, generic) = await RunBothAsync(Moves, seed: async (db, p) =>
        {
            await db.HashSetAsync(p + "j:a", [new("state", "Running"), new("tok", "1")]);
            await db.HashSetAsync(p + "j:b", [new("state", "Running"), new("tok", "6")]);
        });

        Assert.Equal([KvResult.Applied, new KvResult(1, "6")], compact);
        Assert.Equal(generic, compact);
        await AssertSameDataAsync(["j:a", "j:b"], ["ready"]);
    }

    [Fact]
    public async Task MoreInsertsThanOneSortedSetAddTakes_ApplyAsTheGenericScriptDoes()
    {
        // The compact script adds to each sorted set once per call, at most 2,000 members at a time: 2,100 jobs take
        // two adds per set.
        const int count = 2_100;
        static List<KvUnit> Inserts(string p)
        {
            var units = Enumerable.Range(0, count).Select(i => Insert(p, $"m{i:D5}", 1_000 + i)).ToList();
            units.Insert(count / 2, new KvUnit().Publish("{chan}", "r|default"));
            return units;
        }

        var (compact, generic) = await RunBothAsync(Inserts, seed: (db, p) => db.HashSetAsync(p + "j:m00007", [new("state", "Running"), new("tok", "41")]));

        Assert.Equal(count, compact.Count(r => r.IsApplied));
        Assert.Equal(new KvResult(1, "Running"), compact[7]);
        Assert.Equal(generic, compact);
        var db = _redis.GetDatabase();
        Assert.Equal(count - 1, await db.SortedSetLengthAsync(_compact + "ready"));
        Assert.Equal(count - 1, await db.SortedSetLengthAsync(_compact + "all"));
        await AssertSameDataAsync(["j:m00000", "j:m00007", "j:m02099"], ["ready", "all"]);
    }

    [Fact]
    public async Task AMemberAddedTwiceInOneCall_KeepsItsLastScore_AsWithTheGenericScript()
    {
        // The second unit's guard reads what the first wrote (hashes are written at once; only the sorted-set adds wait
        // for the end of the call), and the member's second score wins.
        static List<KvUnit> Moves(string p) =>
        [
            new KvUnit().FieldEquals(p + "j:a", "tok", "1").HashSet(p + "j:a", "state", "Queued", "tok", "2").SortedSetAdd(p + "ready", 5, "a"),
            new KvUnit().FieldEquals(p + "j:a", "tok", "2").HashSet(p + "j:a", "state", "Queued", "tok", "3").SortedSetAdd(p + "ready", 3, "a")
                .Publish("{chan}", "r|default"),
        ];

        var (compact, generic) = await RunBothAsync(Moves, seed: (db, p) => db.HashSetAsync(p + "j:a", [new("state", "Running"), new("tok", "1")]));

        Assert.Equal([KvResult.Applied, KvResult.Applied], compact);
        Assert.Equal(generic, compact);
        Assert.Equal(3, await _redis.GetDatabase().SortedSetScoreAsync(_compact + "ready", "a"));
        await AssertSameDataAsync(["j:a"], ["ready"]);
    }

    [Fact]
    public void UnitsOfAnotherShape_OrGuardedUnlikeTheFirst_GoToTheGenericScript()
    {
        Assert.NotNull(RedisKvBackend.RecordShape.Of([Insert("{x}:", "a", 1), Insert("{x}:", "b", 2)]));
        Assert.NotNull(RedisKvBackend.RecordShape.Of([Success("{x}:", "a", "1"), new KvUnit().Publish("{chan}", "m")]));
        Assert.NotNull(RedisKvBackend.RecordShape.Of([Insert("{x}:", "a", 1, notAfter: 5), Insert("{x}:", "b", 2, notAfter: 6)]));

        // Two guard shapes in one call; a guard on another key than the hash; a write the form has no room for; a
        // guard it does not know; a hash without its HSET; only publishes.
        Assert.Null(RedisKvBackend.RecordShape.Of([Insert("{x}:", "a", 1), Success("{x}:", "b", "1")]));
        Assert.Null(RedisKvBackend.RecordShape.Of([Success("{x}:", "a", "1"), new KvUnit().FieldEquals("{x}:j:b", "tok", "2").HashSet("{x}:j:b", "state", "Queued")]));
        Assert.Null(RedisKvBackend.RecordShape.Of([new KvUnit().FieldEquals("{x}:j:a", "tok", "1").HashSet("{x}:j:b", "state", "Queued")]));
        Assert.Null(RedisKvBackend.RecordShape.Of([Insert("{x}:", "a", 1).SetAdd("{x}:s", "a")]));
        Assert.Null(RedisKvBackend.RecordShape.Of([Insert("{x}:", "a", 1, notAfter: 5), Insert("{x}:", "b", 2)]));
        Assert.Null(RedisKvBackend.RecordShape.Of([new KvUnit().ClockAtMost(5).FieldEquals("{x}:j:a", "tok", "1").HashSet("{x}:j:a", "state", "Queued")]));
        Assert.Null(RedisKvBackend.RecordShape.Of([new KvUnit().KeyAbsent("{x}:j:a", "state").SortedSetAdd("{x}:all", 1, "a")]));
        Assert.Null(RedisKvBackend.RecordShape.Of([new KvUnit().Publish("{chan}", "m")]));
    }

    private static KvUnit Insert(string p, string id, long created, long? notAfter = null) =>
        (notAfter is { } deadline ? new KvUnit().ClockAtMost(deadline) : new KvUnit()).KeyAbsent(p + "j:" + id, "state")
            .HashSet(p + "j:" + id, "type", "noop", "state", "Queued", "created", created.ToString(System.Globalization.CultureInfo.InvariantCulture), "tok", "1")
            .SortedSetAdd(p + "ready", 0, $"{created:x16}{id}").SortedSetAdd(p + "all", created, id);

    private static KvUnit Success(string p, string id, string token) =>
        new KvUnit().FieldEquals(p + "j:" + id, "tok", token).FieldNotEquals(p + "j:" + id, "cancel", "1")
            .SortedSetAdd(p + "fin", 9, id).HashSet(p + "j:" + id, "state", "Succeeded", "tok", "77", "owner", "", "ok", "1|2|3|silo");

    /// <summary>Seeds and runs the scenario under this test's compact prefix as it is, and under its generic prefix with a unit that forces the generic script.</summary>
    private async Task<(KvResult[] Compact, KvResult[] Generic)> RunBothAsync(Func<string, List<KvUnit>> scenario, Func<IDatabase, string, Task> seed)
    {
        var db = _redis.GetDatabase();
        await using var backend = new RedisKvBackend(_redis, "{chan}");
        await seed(db, _compact);
        await seed(db, _generic);

        var messages = 0;
        backend.Message += _ => Interlocked.Increment(ref messages);
        var compactUnits = scenario(_compact);
        Assert.NotNull(RedisKvBackend.RecordShape.Of(compactUnits));
        var compact = await backend.ApplyAsync(compactUnits);

        // Its publishes went out: a lone one always, one inside a unit when the unit applied.
        var published = compactUnits.Select((u, i) => u.Guards.Count == 0 || compact[i].IsApplied ? u.Writes.Count(w => w.Code == KvWriteCode.Publish) : 0).Sum();
        Assert.True(published > 0);
        await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref messages)), n => n >= published, TimeSpan.FromSeconds(10), $"{published} messages published by the compact script");

        var genericUnits = scenario(_generic);
        genericUnits.Add(new KvUnit().SetAdd(_generic + "other", "x"));
        Assert.Null(RedisKvBackend.RecordShape.Of(genericUnits));
        var generic = await backend.ApplyAsync(genericUnits);
        Assert.True(generic[^1].IsApplied);
        return (compact, generic[..^1]);
    }

    private async Task AssertSameDataAsync(string[] hashes, string[] sortedSets)
    {
        var db = _redis.GetDatabase();
        foreach (var hash in hashes)
        {
            var compact = (await db.HashGetAllAsync(_compact + hash)).OrderBy(e => (string?)e.Name, StringComparer.Ordinal).Select(e => $"{e.Name}={e.Value}").ToList();
            var generic = (await db.HashGetAllAsync(_generic + hash)).OrderBy(e => (string?)e.Name, StringComparer.Ordinal).Select(e => $"{e.Name}={e.Value}").ToList();
            Assert.NotEmpty(compact);
            Assert.Equal(generic, compact);
        }

        foreach (var set in sortedSets)
        {
            var compact = (await db.SortedSetRangeByRankWithScoresAsync(_compact + set)).Select(e => $"{e.Element}@{e.Score}").ToList();
            var generic = (await db.SortedSetRangeByRankWithScoresAsync(_generic + set)).Select(e => $"{e.Element}@{e.Score}").ToList();
            Assert.NotEmpty(compact);
            Assert.Equal(generic, compact);
        }
    }
}
