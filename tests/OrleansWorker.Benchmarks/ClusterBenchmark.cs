using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using StackExchange.Redis;

namespace OrleansWorker.Benchmarks;

/// <summary>
/// A three-master Redis Cluster (no replicas) for the <c>cluster</c> phase: <c>redis-server --cluster-enabled yes</c>
/// processes on loopback ports P whose bus port P + 10000 is free too, each in its own temp dir (append-only file,
/// fsync every second, as <see cref="RedisServer"/>), joined with <c>redis-cli --cluster create</c>. A small copy of the
/// test suite's RedisCluster (the harness does not reference the test project).
/// </summary>
internal sealed class RedisClusterNodes : IAsyncDisposable
{
    public const int NodeCount = 3;
    private const int BusPortOffset = 10000;
    private readonly Process[] _processes;
    private readonly string _dir;

    private RedisClusterNodes(Process[] processes, int[] ports, string dir, ConnectionMultiplexer connection)
    {
        _processes = processes;
        Ports = ports;
        _dir = dir;
        Connection = connection;
    }

    public IReadOnlyList<int> Ports { get; }

    /// <summary>Every node, as StackExchange.Redis takes it.</summary>
    public string ConnectionString => string.Join(',', Ports.Select(p => $"127.0.0.1:{p}"));

    /// <summary>A cluster-aware multiplexer (routes each command by its key's slot).</summary>
    public ConnectionMultiplexer Connection { get; }

    public int Pid(int node) => _processes[node].Id;

    /// <summary>The node (index into <see cref="Ports"/>) serving <paramref name="key"/>'s slot.</summary>
    public async Task<int> NodeOfAsync(string key)
    {
        var config = await Connection.GetServer("127.0.0.1", Ports[0]).ClusterNodesAsync() ?? throw new InvalidOperationException("CLUSTER NODES answered nothing.");
        var owner = config.GetBySlot(Connection.HashSlot(key)) ?? throw new InvalidOperationException($"No node serves the slot of {key}.");
        return owner.EndPoint is IPEndPoint ip ? Ports.ToList().IndexOf(ip.Port) : -1;
    }

    public Task<long> DbSizeAsync(int node) => Connection.GetServer("127.0.0.1", Ports[node]).DatabaseSizeAsync();

    public static async Task<RedisClusterNodes> StartAsync()
    {
        var dir = Directory.CreateTempSubdirectory("ow-bench-cluster-").FullName;
        var processes = new List<Process>();
        var ports = new List<int>();
        try
        {
            for (var i = 0; i < NodeCount; i++)
            {
                var port = PortPair(ports);
                var nodeDir = Path.Combine(dir, "node" + i.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(nodeDir);
                var p = port.ToString(CultureInfo.InvariantCulture);
                var info = new ProcessStartInfo("redis-server",
                [
                    "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(nodeDir, $"nodes-{p}.conf"), "--cluster-node-timeout", "5000",
                    "--port", p, "--bind", "127.0.0.1", "--dir", nodeDir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                ])
                {
                    RedirectStandardOutput = true,
                };
                var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
                Children.Track(process);
                process.OutputDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                processes.Add(process);
                ports.Add(port);
            }

            for (var i = 0; i < NodeCount; i++)
            {
                var port = ports[i].ToString(CultureInfo.InvariantCulture);
                var process = processes[i];
                await Wait.UntilAsync(async () => process.HasExited
                    ? throw new InvalidOperationException($"redis-server on port {port} exited with {process.ExitCode}.")
                    : (await RedisCli(["-p", port, "ping"])).Trim() == "PONG", TimeSpan.FromSeconds(20), $"redis-server on port {port} to answer PING", 50);
            }

            var created = await RedisCli(["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"]);
            if (!created.Contains("All 16384 slots covered", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed:\n{created}");
            }

            foreach (var port in ports)
            {
                var p = port.ToString(CultureInfo.InvariantCulture);
                await Wait.UntilAsync(async () =>
                {
                    var info = await RedisCli(["-p", p, "cluster", "info"]);
                    return info.Contains("cluster_state:ok", StringComparison.Ordinal) && info.Contains("cluster_slots_ok:16384", StringComparison.Ordinal)
                        && info.Contains($"cluster_known_nodes:{NodeCount}", StringComparison.Ordinal);
                }, TimeSpan.FromSeconds(45), $"node :{p} to report cluster_state:ok with every slot and node", 50);
            }

            var connection = await ConnectionMultiplexer.ConnectAsync(string.Join(',', ports.Select(p => $"127.0.0.1:{p}")) + ",allowAdmin=true,abortConnect=true,connectTimeout=5000");
            return new RedisClusterNodes([.. processes], [.. ports], dir, connection);
        }
        catch
        {
            foreach (var process in processes)
            {
                Stop(process);
            }

            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        foreach (var process in _processes)
        {
            Stop(process);
        }

        Directory.Delete(_dir, recursive: true);
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(10_000);
        }

        Children.Forget(process);
        process.Dispose();
    }

    /// <summary>Runs redis-cli and returns its standard output (and error).</summary>
    private static async Task<string> RedisCli(string[] args)
    {
        var info = new ProcessStartInfo("redis-cli", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-cli did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return await stdout + await stderr;
    }

    /// <summary>A port P in [20000, 30000) such that P and P + 10000 (the cluster bus) are free and not taken by this cluster.</summary>
    private static int PortPair(List<int> taken)
    {
        for (var attempt = 0; attempt < 500; attempt++)
        {
            var port = RandomNumberGenerator.GetInt32(20000, 30000);
            if (!taken.Contains(port) && IsFree(port) && IsFree(port + BusPortOffset))
            {
                return port;
            }
        }

        throw new InvalidOperationException("No free port pair (P, P + 10000) in [20000, 30000).");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>
/// Phase <c>cluster</c>: one silo in this process on a fresh three-node Redis Cluster per shard count (1, then 3),
/// durable no-op jobs through <see cref="IJobClient"/> batches of 500 (8 in flight), N = the largest <c>--n</c>;
/// counted when Succeeded is stored (the finished index of each shard, summed). Prints jobs/s and CPU per job of the
/// silo (this process: silo + client) and of each Redis node.
/// </summary>
internal static class ClusterBenchmark
{
    private const int BatchSize = 500;
    private const int InFlight = 8;

    public static async Task RunAsync(BenchOptions options, Report report)
    {
        var n = options.Ns.Max();
        var rates = new Dictionary<int, double>();
        foreach (var shards in new[] { 1, 3 })
        {
            await using var cluster = await RedisClusterNodes.StartAsync();
            rates[shards] = await RunShardsAsync(cluster, shards, n, report);
        }

        report.Row($"Redis Cluster (3 nodes), 3 shards / 1 shard, one in-process silo, N = {n:N0}", $"**{rates[3] / rates[1]:0.00}×**", $"{rates[3]:0} vs {rates[1]:0} jobs/s");
        report.Figure("cluster_shards3_vs_shards1_ratio", Math.Round(rates[3] / rates[1], 2));
    }

    private static async Task<double> RunShardsAsync(RedisClusterNodes cluster, int shards, int n, Report report)
    {
        var db = cluster.Connection.GetDatabase();
        var succeeded = Enumerable.Range(0, shards).Select(s => (RedisKey)$"{{ow:{s}}}:f:Succeeded:default").ToArray();
        var homes = new List<string>();
        for (var s = 0; s < shards; s++)
        {
            homes.Add($"shard {s} on node {await cluster.NodeOfAsync($"{{ow:{s}}}")}");
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = cluster.ConnectionString,
            ["Orleans:ClusterId"] = $"bench-{Guid.NewGuid():N}",
            ["Orleans:Endpoints:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
        });
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = WorkerSiloBuilderExtensions.RedisOptions(cluster.ConnectionString));
            silo.AddOrleansWorker(w => w.BindConfiguration(builder.Configuration.GetSection("Worker")).UseRedisJobStore(cluster.ConnectionString, shards).AddBuiltInHandlers());
        });
        builder.Services.AddJobClient(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            var jobs = host.Services.GetRequiredService<IJobClient>();
            async Task<long> SucceededAsync() => (await Task.WhenAll(succeeded.Select(k => db.SortedSetLengthAsync(k)))).Sum();

            // Warm-up (also loads the scripts on every node that serves a shard).
            await jobs.EnqueueManyAsync(Enumerable.Range(0, 2000).Select(i => new JobRequest("noop") { Id = $"warm-{i}" }).ToList());
            await Wait.UntilAsync(async () => await SucceededAsync() >= 2000, TimeSpan.FromMinutes(5), "2000 warm-up jobs to succeed", 5);

            var baseline = await SucceededAsync();
            var self0 = Proc.CpuSeconds(Environment.ProcessId);
            var nodes0 = Enumerable.Range(0, RedisClusterNodes.NodeCount).Select(i => Proc.CpuSecondsWithChildren(cluster.Pid(i))).ToArray();
            var machine0 = Proc.MachineBusySeconds();
            var clock = Stopwatch.StartNew();
            await Submit.BatchesAsync(jobs, n, BatchSize, InFlight, $"c{shards}-");
            var submitted = clock.Elapsed;
            await Wait.UntilAsync(async () => await SucceededAsync() >= baseline + n, TimeSpan.FromMinutes(20), $"{n} jobs to succeed over {shards} shard(s)", 5);
            var total = clock.Elapsed.TotalSeconds;
            var self = Proc.CpuSeconds(Environment.ProcessId) - self0;
            var nodes = Enumerable.Range(0, RedisClusterNodes.NodeCount).Select(i => Proc.CpuSecondsWithChildren(cluster.Pid(i)) - nodes0[i]).ToArray();
            var other = Math.Max(0, Proc.MachineBusySeconds() - machine0 - self - nodes.Sum());

            var rate = n / total;
            double PerJob(double seconds) => seconds / n * 1e6;
            var prefix = $"cluster_shards{shards}";
            var sizes = await Task.WhenAll(Enumerable.Range(0, RedisClusterNodes.NodeCount).Select(cluster.DbSizeAsync));
            var nodeText = string.Join(", ", nodes.Select((c, i) => $"node {i} {PerJob(c):0} µs ({c / total * 100:0}%, {sizes[i]:N0} keys)"));
            report.Row($"durable no-op jobs/s on a 3-node Redis Cluster, {shards} shard(s) ({string.Join(", ", homes)}), `IJobClient` batches of {BatchSize} ({InFlight} in flight), one silo in-process, N = {n:N0}",
                $"**{rate:N0}**",
                $"submit {submitted.TotalSeconds:0.00} s, all Succeeded after {total:0.00} s; CPU per job: silo+client {PerJob(self):0} µs ({self / total * 100:0}%), Redis {PerJob(nodes.Sum()):0} µs: {nodeText}; other processes {other / total * 100:0}% (100% = one core)");
            report.Figure($"{prefix}_jobs_per_sec", Math.Round(rate));
            report.Figure($"{prefix}_silo_cpu_us_per_job", Math.Round(PerJob(self)));
            report.Figure($"{prefix}_redis_cpu_us_per_job", Math.Round(PerJob(nodes.Sum())));
            for (var i = 0; i < nodes.Length; i++)
            {
                report.Figure($"{prefix}_node{i}_cpu_us_per_job", Math.Round(PerJob(nodes[i])));
            }

            report.Figure($"{prefix}_cpu_other_processes_percent", Math.Round(other / total * 100));
            return rate;
        }
        finally
        {
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }
}
