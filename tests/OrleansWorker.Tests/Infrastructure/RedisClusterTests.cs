using System.Net;
using StackExchange.Redis;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>One three-node <see cref="RedisCluster"/> and a cluster-aware multiplexer for the class.</summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public RedisCluster Cluster { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await RedisCluster.StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(Cluster.ConnectionString + ",allowAdmin=true");
    }

    public async Task DisposeAsync()
    {
        if (Connection is not null)
        {
            await Connection.DisposeAsync();
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// Proves <see cref="RedisCluster"/> on this machine and records what redis-server (7.0) in cluster mode allows a Lua
/// script: keys it did not declare, PUBLISH, and EVALSHA on a node that never saw the script.
/// </summary>
[Trait("Category", "Infrastructure")]
public sealed class RedisClusterTests(RedisClusterFixture fixture) : IClassFixture<RedisClusterFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private ConnectionMultiplexer Redis => fixture.Connection;

    private IDatabase Db => Redis.GetDatabase();

    /// <summary>The index (into <see cref="RedisCluster.Ports"/>) of the node serving <paramref name="key"/>'s slot.</summary>
    private async Task<int> NodeOfAsync(RedisKey key)
    {
        var config = await Redis.GetServer(Redis.GetEndPoints()[0]).ClusterNodesAsync();
        var owner = config?.GetBySlot(Redis.HashSlot(key)) ?? throw new InvalidOperationException($"No node serves the slot of {key}.");
        return IndexOf(owner.EndPoint!);
    }

    private int IndexOf(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => fixture.Cluster.Ports.ToList().IndexOf(ip.Port),
        DnsEndPoint dns => fixture.Cluster.Ports.ToList().IndexOf(dns.Port),
        _ => -1,
    };

    private IServer Server(int index) => Redis.GetServer("127.0.0.1", fixture.Cluster.Ports[index]);

    /// <summary>A hash tag (<c>{tN}</c>) whose slot is served by a node for which <paramref name="accept"/> holds, with a different slot than <paramref name="notSlotOf"/>.</summary>
    private async Task<string> FindTagAsync(Func<int, bool> accept, RedisKey notSlotOf)
    {
        for (var n = 0; n < 10_000; n++)
        {
            var tag = $"{{t{n}}}";
            if (Redis.HashSlot(tag + ":k") != Redis.HashSlot(notSlotOf) && accept(await NodeOfAsync(tag + ":k")))
            {
                return tag;
            }
        }

        throw new InvalidOperationException("No hash tag found for the wanted node.");
    }

    [Fact]
    public async Task Cluster_IsOk_OnEveryNode_WithAllSlotsAssigned()
    {
        for (var i = 0; i < RedisCluster.NodeCount; i++)
        {
            var info = await fixture.Cluster.ClusterInfoAsync(i);
            Assert.Equal("ok", info.Get("cluster_state"));
            Assert.Equal("16384", info.Get("cluster_slots_assigned"));
            Assert.Equal("3", info.Get("cluster_known_nodes"));
        }

        Assert.Equal(3, fixture.Cluster.Ports.Distinct().Count());
        Assert.All(fixture.Cluster.Ports, p => Assert.DoesNotContain(p + RedisCluster.BusPortOffset, fixture.Cluster.Ports));
    }

    [Fact]
    public async Task KeysWithDifferentHashTags_LandOnDifferentNodes()
    {
        RedisKey[] keys = ["{a}:x", "{b}:x", "{c}:x"];
        foreach (var key in keys)
        {
            await Db.StringSetAsync(key, "v");
        }

        var owners = new List<int>();
        foreach (var key in keys)
        {
            var owner = await NodeOfAsync(key);
            owners.Add(owner);

            // The key is physically on the node that owns its slot (SCAN on that node alone), and on no other.
            for (var i = 0; i < RedisCluster.NodeCount; i++)
            {
                var found = Server(i).KeysAsync(pattern: key.ToString());
                var here = false;
                await foreach (var k in found)
                {
                    here |= k == key;
                }

                Assert.Equal(i == owner, here);
            }
        }

        Assert.True(owners.Distinct().Count() >= 2, $"keys landed on nodes {string.Join(",", owners)}");
    }

    [Fact]
    public async Task Script_MayWrite_UndeclaredKeys_OfItsDeclaredSlot()
    {
        // KEYS[1] routes the script to the node of {a}; the other keys are built inside from ARGV[1] and never declared.
        const string script = """
            redis.call('SET', KEYS[1], 'x')
            redis.call('SET', ARGV[1] .. 'y', 'y')
            redis.call('SET', ARGV[1] .. 'z', 'z')
            return redis.call('MGET', KEYS[1], ARGV[1] .. 'y', ARGV[1] .. 'z')
            """;
        var result = (RedisValue[])(await Db.ScriptEvaluateAsync(script, ["{a}:x"], ["{a}:"]))!;
        Assert.Equal(["x", "y", "z"], result.Select(v => (string)v!));
        Assert.Equal("y", (string?)await Db.StringGetAsync("{a}:y"));
        Assert.Equal("z", (string?)await Db.StringGetAsync("{a}:z"));

        // The same with a shebang (Redis 7 script flags, no allow-cross-slot-keys): still allowed, it is the same slot.
        var flagged = (RedisValue[])(await Db.ScriptEvaluateAsync("#!lua\n" + script, ["{a}:x"], ["{a}:"]))!;
        Assert.Equal(["x", "y", "z"], flagged.Select(v => (string)v!));
    }

    [Fact]
    public async Task Script_WithEveryKeyDeclared_Works()
    {
        const string script = """
            redis.call('SET', KEYS[1], ARGV[1])
            redis.call('SET', KEYS[2], ARGV[1])
            redis.call('SET', KEYS[3], ARGV[1])
            return redis.call('MGET', KEYS[1], KEYS[2], KEYS[3])
            """;
        var result = (RedisValue[])(await Db.ScriptEvaluateAsync(script, ["{a}:x", "{a}:y", "{a}:z"], ["all"]))!;
        Assert.Equal(["all", "all", "all"], result.Select(v => (string)v!));

        // Declared keys of different slots never reach a node: StackExchange.Redis refuses them itself.
        var error = await Assert.ThrowsAsync<RedisCommandException>(() => Db.ScriptEvaluateAsync(script, ["{a}:x", "{b}:x", "{c}:x"], ["all"]));
        Assert.StartsWith("Multi-key operations must involve a single slot", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Script_UndeclaredKey_OnAnotherNode_IsRefused()
    {
        var home = await NodeOfAsync("{a}:x");
        var elsewhere = await FindTagAsync(n => n != home, "{a}:x");
        var error = await Assert.ThrowsAsync<RedisServerException>(() =>
            Db.ScriptEvaluateAsync("redis.call('SET', KEYS[1], 'x'); return redis.call('SET', ARGV[1], 'y')", ["{a}:x"], [elsewhere + ":k"]));
        Assert.Contains("Script attempted to access a non local key in a cluster node", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Script_UndeclaredKey_OfAnotherSlot_OnTheSameNode_IsAllowedOnlyWithoutShebang()
    {
        var home = await NodeOfAsync("{a}:x");
        var sameNode = await FindTagAsync(n => n == home, "{a}:x");
        const string body = "redis.call('SET', KEYS[1], 'x'); return redis.call('SET', ARGV[1], 'y')";

        // Without a shebang, Redis 7 keeps the old behaviour: any key the node serves is accepted.
        var legacy = await Db.ScriptEvaluateAsync(body, ["{a}:x"], [sameNode + ":k"]);
        Assert.Equal("OK", (string?)legacy);

        // With one (and no allow-cross-slot-keys flag) the script is held to its first slot.
        var error = await Assert.ThrowsAsync<RedisServerException>(() => Db.ScriptEvaluateAsync("#!lua\n" + body, ["{a}:x"], [sameNode + ":k2"]));
        Assert.Contains("Script attempted to access keys that do not hash to the same slot", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Script_WithoutKeys_WorksOnlyOnTheNodeServingTheSlotItTouches()
    {
        // numkeys = 0 gives the client nothing to route by; sent to each node in turn, only the owner of {a} accepts it.
        var home = await NodeOfAsync("{a}:x");
        const string script = "return redis.call('SET', ARGV[1] .. 'nokeys', 'v')";
        for (var i = 0; i < RedisCluster.NodeCount; i++)
        {
            if (i == home)
            {
                Assert.Equal("OK", (string?)await Server(i).ExecuteAsync("EVAL", script, 0, "{a}:"));
            }
            else
            {
                var error = await Assert.ThrowsAsync<RedisServerException>(() => Server(i).ExecuteAsync("EVAL", script, 0, "{a}:"));
                Assert.Contains("non local key", error.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Publish_FromAScript_ReachesASubscriber_ConnectedThroughTheCluster()
    {
        var channel = RedisChannel.Literal("ow:test:" + Guid.NewGuid().ToString("N"));
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscriber = Redis.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) => received.TrySetResult(message!));
        try
        {
            // Publish from a script that runs on a node other than the one the subscription lives on.
            var subscribedOn = IndexOf(subscriber.SubscribedEndpoint(channel)!);
            Assert.NotEqual(-1, subscribedOn);
            var tag = await FindTagAsync(n => n != subscribedOn, "{a}:x");
            var localReceivers = (long)await Db.ScriptEvaluateAsync("return redis.call('PUBLISH', ARGV[1], ARGV[2])", [tag + ":k"], [channel.ToString(), "hello"]);

            Assert.Equal("hello", await received.Task.WaitAsync(Deadline));

            // PUBLISH answers the receivers connected to the node it ran on, not the cluster's.
            Assert.Equal(0, localReceivers);
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }

    [Fact]
    public async Task Evalsha_OnANodeThatNeverSawTheScript_AnswersNoscript_AndEvalFallbackLoadsIt()
    {
        var script = $"-- {Guid.NewGuid():N}\nreturn redis.call('INCR', KEYS[1])";
        var home = await NodeOfAsync("{a}:x");
        var other = (home + 1) % RedisCluster.NodeCount;
        var sha = await Server(home).ScriptLoadAsync(script);
        var otherKey = await FindTagAsync(n => n == other, "{a}:x") + ":counter";

        // Loaded on one node: EVALSHA works there…
        Assert.Equal(1L, (long)await Db.ScriptEvaluateAsync(sha, ["{a}:counter"]));

        // …and another node answers NOSCRIPT: SCRIPT LOAD is per node, not cluster-wide.
        var error = await Assert.ThrowsAsync<RedisServerException>(() => Db.ScriptEvaluateAsync(sha, [otherKey]));
        Assert.StartsWith("NOSCRIPT", error.Message, StringComparison.Ordinal);

        // The fallback RedisJobStore uses (EVAL on NOSCRIPT) runs it and caches it on that node; EVALSHA then works there.
        Assert.Equal(1L, (long)await Db.ScriptEvaluateAsync(script, [otherKey]));
        Assert.Equal(2L, (long)await Db.ScriptEvaluateAsync(sha, [otherKey]));
    }

    [Fact]
    public async Task KilledNode_FailsTheCluster_AndRestartsOnItsPortAndDirectory_WithItsData()
    {
        // Its own cluster: this test takes a node down.
        await using var cluster = await RedisCluster.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(cluster.ConnectionString + ",allowAdmin=true");
        var db = redis.GetDatabase();
        await db.StringSetAsync("{b}:durable", "kept");
        var config = await redis.GetServer(redis.GetEndPoints()[0]).ClusterNodesAsync();
        var port = ((IPEndPoint)config!.GetBySlot(redis.HashSlot("{b}:durable"))!.EndPoint!).Port;
        var victim = cluster.Ports.ToList().IndexOf(port);

        await cluster.KillNodeAsync(victim);
        Assert.False(cluster.IsRunning(victim));
        await cluster.WaitFailedAsync();

        await cluster.StartNodeAsync(victim);
        Assert.Equal(port, cluster.Ports[victim]);
        var value = await Poll.UntilAsync(async () => (string?)await db.StringGetAsync("{b}:durable"), v => v is not null, Deadline,
            "the key of the restarted node to be readable again");
        Assert.Equal("kept", value);
    }
}
