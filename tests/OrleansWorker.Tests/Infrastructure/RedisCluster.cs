using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster of three masters (no replicas): <c>redis-server --cluster-enabled yes</c> processes on free loopback
/// ports, each with its own temp directory (append-only file fsynced every second, its <c>nodes-PORT.conf</c>), joined with
/// <c>redis-cli --cluster create</c>. Dispose kills every node and deletes the directories, also when a test failed.
/// </summary>
/// <remarks>
/// Ports are drawn below the kernel's ephemeral range (together with their cluster bus port, +10000), so that neither an
/// outgoing connection nor a <see cref="RedisServer.FreePort"/> of another test can take a port while its node is down
/// between <see cref="KillNodeAsync"/> and <see cref="StartNodeAsync"/>.
/// </remarks>
public sealed class RedisCluster : IAsyncDisposable
{
    public const int NodeCount = 3;
    public const int SlotCount = 16384;
    public const int BusPortOffset = 10000;
    public const int NodeTimeoutMs = 2000;

    private const int LowestPort = 20000;
    private static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(45);
    private static readonly Lock PortLock = new();
    private static readonly HashSet<int> PortsHandedOut = [];

    private readonly Process?[] _processes = new Process?[NodeCount];
    private readonly StringBuilder[] _logs = [.. Enumerable.Range(0, NodeCount).Select(_ => new StringBuilder())];
    private readonly int[] _ports = new int[NodeCount];

    private RedisCluster(string directory) => Directory = directory;

    /// <summary>The parent of the nodes' directories.</summary>
    public string Directory { get; }

    /// <summary>The client ports of the nodes, by index.</summary>
    public IReadOnlyList<int> Ports => _ports;

    /// <summary>Every node, as StackExchange.Redis takes it: <c>127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3</c>.</summary>
    public string ConnectionString => string.Join(',', _ports.Select(p => $"127.0.0.1:{p}"));

    public string NodeDirectory(int index) => Path.Combine(Directory, "node" + index.ToString(CultureInfo.InvariantCulture));

    /// <summary>Whether node <paramref name="index"/>'s process is running.</summary>
    public bool IsRunning(int index) => _processes[index] is { HasExited: false };

    /// <summary>The newest lines node <paramref name="index"/> logged.</summary>
    public string Log(int index)
    {
        lock (_logs[index])
        {
            return _logs[index].ToString();
        }
    }

    /// <summary>Starts three nodes, joins them and waits until every node reports <c>cluster_state:ok</c> with all slots assigned.</summary>
    public static async Task<RedisCluster> StartAsync()
    {
        _ = Shell.Find("redis-server") ?? throw new InvalidOperationException(
            "redis-server was not found on PATH. Install it (Debian/Ubuntu: 'apt-get install -y redis-server') or run 'bash .ci/run', which installs it.");
        var cluster = new RedisCluster(Path.Combine(Path.GetTempPath(), "ow-rcluster-" + Guid.NewGuid().ToString("N")));
        try
        {
            for (var i = 0; i < NodeCount; i++)
            {
                await cluster.StartNewNodeAsync(i);
            }

            (await Shell.RunAsync("redis-cli",
                ["--cluster", "create", .. cluster._ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "0", "--cluster-yes"],
                TimeSpan.FromSeconds(60))).EnsureSuccess();
            await cluster.WaitHealthyAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills node <paramref name="index"/> (SIGKILL) and waits for its process to end. The other nodes notice after <see cref="NodeTimeoutMs"/>.</summary>
    public async Task KillNodeAsync(int index)
    {
        var process = _processes[index];
        if (process is { HasExited: false })
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>
    /// Starts node <paramref name="index"/> again on its port and directory (its nodes.conf keeps its identity and slots, its
    /// append-only file its data) and waits until every node reports <c>cluster_state:ok</c> again.
    /// </summary>
    public async Task StartNodeAsync(int index)
    {
        if (IsRunning(index))
        {
            throw new InvalidOperationException($"Node {index} (port {_ports[index]}) is running.");
        }

        _processes[index]?.Dispose();
        _processes[index] = null;
        if (!await LaunchAsync(index))
        {
            throw new InvalidOperationException($"Node {index} did not start again on port {_ports[index]}:\n{Log(index)}");
        }

        await WaitHealthyAsync();
    }

    /// <summary>Waits until every running node reports <c>cluster_state:ok</c>, all 16384 slots assigned and ok, and knows all nodes.</summary>
    public Task WaitHealthyAsync(TimeSpan? timeout = null) =>
        WaitStateAsync(info => info.Get("cluster_state") == "ok"
            && info.Get("cluster_slots_assigned") == SlotCount.ToString(CultureInfo.InvariantCulture)
            && info.Get("cluster_slots_ok") == SlotCount.ToString(CultureInfo.InvariantCulture)
            && info.Get("cluster_known_nodes") == NodeCount.ToString(CultureInfo.InvariantCulture),
            timeout, "every node to report cluster_state:ok with all 16384 slots assigned");

    /// <summary>Waits until every running node reports <c>cluster_state:fail</c> (as it does once a node serving slots is down for longer than the node timeout).</summary>
    public Task WaitFailedAsync(TimeSpan? timeout = null) =>
        WaitStateAsync(info => info.Get("cluster_state") == "fail", timeout, "every running node to report cluster_state:fail");

    /// <summary>Runs <c>redis-cli -p PORT args...</c> against node <paramref name="index"/> and returns what it printed.</summary>
    public async Task<string> CliAsync(int index, params string[] args) =>
        (await Shell.RunAsync("redis-cli", ["-p", _ports[index].ToString(CultureInfo.InvariantCulture), .. args], TimeSpan.FromSeconds(10))).EnsureSuccess().StandardOutput;

    /// <summary><c>CLUSTER INFO</c> of node <paramref name="index"/>, as field/value pairs.</summary>
    public async Task<ClusterInfo> ClusterInfoAsync(int index) => new(_ports[index], await CliAsync(index, "cluster", "info"));

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < NodeCount; i++)
        {
            await KillNodeAsync(i);
            _processes[i]?.Dispose();
        }

        lock (PortLock)
        {
            foreach (var port in _ports.Where(p => p != 0))
            {
                PortsHandedOut.Remove(port);
            }
        }

        TempDirectory.Delete(Directory);
    }

    private async Task WaitStateAsync(Func<ClusterInfo, bool> done, TimeSpan? timeout, string awaited) =>
        await Poll.UntilAsync(
            async () =>
            {
                var infos = new List<ClusterInfo>();
                for (var i = 0; i < NodeCount; i++)
                {
                    if (IsRunning(i))
                    {
                        infos.Add(await ClusterInfoAsync(i));
                    }
                }

                return new NodeStates(infos);
            },
            states => states.Infos.Count > 0 && states.Infos.All(done),
            timeout ?? StateTimeout,
            awaited);

    private sealed record NodeStates(List<ClusterInfo> Infos)
    {
        public override string ToString() => Infos.Count == 0 ? "no node running" : string.Join("; ", Infos);
    }

    /// <summary>Gives node <paramref name="index"/> a fresh port pair and directory and starts it; retries on another port when the process exits (port taken meanwhile).</summary>
    private async Task StartNewNodeAsync(int index)
    {
        System.IO.Directory.CreateDirectory(NodeDirectory(index));
        for (var attempt = 1; ; attempt++)
        {
            _ports[index] = ReservePort();
            if (await LaunchAsync(index))
            {
                return;
            }

            _processes[index]?.Dispose();
            _processes[index] = null;
            if (attempt == 5)
            {
                throw new InvalidOperationException($"redis-server node {index} did not start (last port {_ports[index]}):\n{Log(index)}");
            }
        }
    }

    /// <summary>Starts node <paramref name="index"/>'s process and waits for PING; false when the process exits first.</summary>
    private async Task<bool> LaunchAsync(int index)
    {
        var port = _ports[index].ToString(CultureInfo.InvariantCulture);
        var dir = NodeDirectory(index);
        var info = new ProcessStartInfo("redis-server",
        [
            "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(dir, $"nodes-{port}.conf"),
            "--port", port, "--bind", "127.0.0.1",
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--cluster-node-timeout", NodeTimeoutMs.ToString(CultureInfo.InvariantCulture),
            "--dir", dir, "--daemonize", "no",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        _processes[index] = process;
        Shell.Capture(process, _logs[index]);
        var state = await Poll.UntilAsync(
            async () => process.HasExited ? "exited" : (await Shell.RunAsync("redis-cli", ["-p", port, "ping"], TimeSpan.FromSeconds(5))).StandardOutput.Trim(),
            s => s is "PONG" or "exited",
            TimeSpan.FromSeconds(20),
            $"redis-server node {index} to answer PING on port {port}");
        return state == "PONG";
    }

    /// <summary>
    /// A port P such that P and P + 10000 (the cluster bus) are both free on loopback and not handed out by this process,
    /// drawn from [20000, start of the ephemeral range - 10000) when that leaves room, else from [20000, 50000).
    /// </summary>
    private static int ReservePort()
    {
        var (low, high) = (LowestPort, 50000);
        var ephemeralStart = EphemeralRangeStart();
        if (ephemeralStart - BusPortOffset - LowestPort >= 1000)
        {
            high = ephemeralStart - BusPortOffset;
        }

        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = RandomNumberGenerator.GetInt32(low, high);
            lock (PortLock)
            {
                if (PortsHandedOut.Contains(port) || PortsHandedOut.Contains(port + BusPortOffset) || PortsHandedOut.Contains(port - BusPortOffset))
                {
                    continue;
                }

                if (IsFree(port) && IsFree(port + BusPortOffset))
                {
                    PortsHandedOut.Add(port);
                    PortsHandedOut.Add(port + BusPortOffset);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"No free port pair (P, P+{BusPortOffset}) found in [{low}, {high}).");
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

    private static int EphemeralRangeStart()
    {
        try
        {
            var text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            return int.Parse(text.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return 32768;
        }
    }
}

/// <summary>The fields of one node's <c>CLUSTER INFO</c> answer.</summary>
public sealed class ClusterInfo
{
    private readonly Dictionary<string, string> _fields;

    public ClusterInfo(int port, string text)
    {
        Port = port;
        _fields = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2)
            .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
    }

    public int Port { get; }

    public string? Get(string field) => _fields.GetValueOrDefault(field);

    public override string ToString() =>
        $":{Port} state={Get("cluster_state")} assigned={Get("cluster_slots_assigned")} ok={Get("cluster_slots_ok")} pfail={Get("cluster_slots_pfail")} fail={Get("cluster_slots_fail")} known={Get("cluster_known_nodes")}";
}
