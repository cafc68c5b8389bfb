using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OrleansWorker.Client;
using StackExchange.Redis;

namespace OrleansWorker.Benchmarks;

/// <summary>Every child process the harness starts; killed (whole tree) at the end, on failure and on Ctrl-C.</summary>
internal static class Children
{
    private static readonly ConcurrentDictionary<int, Process> Processes = new();

    public static void Track(Process process) => Processes[process.Id] = process;

    public static void Forget(Process process) => Processes.TryRemove(process.Id, out _);

    public static void KillAll()
    {
        foreach (var (_, process) in Processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        Processes.Clear();
    }
}

/// <summary>Waits with a deadline; a timeout says what it was waiting for.</summary>
internal static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, int pollMs = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
            }

            await Task.Delay(pollMs);
        }
    }

    /// <summary>The index of Succeeded jobs of the default queue in shard 0 (the layout of docs/design.md).</summary>
    public const string SucceededKey = "{ow:0}:f:Succeeded:default";

    /// <summary>Waits until <see cref="SucceededKey"/> holds at least <paramref name="expected"/> jobs.</summary>
    public static Task SucceededAsync(IDatabase db, long expected, TimeSpan? timeout = null, string key = SucceededKey) =>
        UntilAsync(async () => await db.SortedSetLengthAsync(key) >= expected, timeout ?? TimeSpan.FromMinutes(20), $"{expected} jobs in {key}", 5);
}

/// <summary>
/// Submits N no-op jobs through <see cref="IJobClient.EnqueueManyAsync"/>, in batches with a bounded number in flight.
/// Each batch is built when it is sent (as bench.mjs builds each <c>addBulk</c> chunk and the <c>http</c> rows each
/// request), not all N up front: those would be built inside the timed row and stay alive, N requests at once, through
/// every collection of the row.
/// </summary>
internal static class Submit
{
    public static Task BatchesAsync(IJobClient jobs, int n, int batchSize, int inFlight, string idPrefix) =>
        Parallel.ForEachAsync(Enumerable.Range(0, (n + batchSize - 1) / batchSize), new ParallelOptions { MaxDegreeOfParallelism = inFlight }, async (b, ct) =>
        {
            var batch = new List<JobRequest>(Math.Min(batchSize, n - (b * batchSize)));
            for (var i = b * batchSize; i < Math.Min(n, (b + 1) * batchSize); i++)
            {
                batch.Add(new JobRequest("noop") { Id = string.Create(CultureInfo.InvariantCulture, $"{idPrefix}{i}") });
            }

            await jobs.EnqueueManyAsync(batch, ct);
        });
}

/// <summary>Free loopback TCP ports, none handed out twice in a run (the kernel may give one port to two binds in a row).</summary>
internal static class Ports
{
    private static readonly Lock HandedOutLock = new();
    private static readonly HashSet<int> HandedOut = [];

    public static int Free()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (HandedOutLock)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }
}

/// <summary>The repository's root: the first directory above the harness's binaries that holds OrleansWorker.sln.</summary>
internal static class RepoRoot
{
    public static string Path()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "OrleansWorker.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("OrleansWorker.sln not found above the benchmark's directory.");
    }
}

/// <summary>Reads a process's memory and CPU time from /proc.</summary>
internal static class Proc
{
    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public static long RssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no VmRSS line.");
    }

    /// <summary>CPU time all cores spent busy (not idle, not waiting for I/O) since boot, in seconds.</summary>
    public static double MachineBusySeconds()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        // user nice system idle iowait irq softirq steal …; guest times are already inside user and nice.
        return (cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu[7]) / 100.0;
    }

    /// <summary>User + system CPU time consumed so far, in seconds.</summary>
    public static double CpuSeconds(int pid) => Ticks(StatFields(pid), 11, 2) / 100.0;

    /// <summary>
    /// As <see cref="CpuSeconds"/>, plus the CPU time of the process' children: those it has waited for (cutime, cstime)
    /// and those still running. For a redis-server that is its AOF-rewrite child (<c>redis-aof-rewrite</c>, forked when
    /// the file has doubled), which does Redis' work of keeping the file short, so it counts as Redis'.
    /// </summary>
    public static double CpuSecondsWithChildren(int pid) => CpuTimes(pid).WithChildren;

    /// <summary>The process' own CPU time (<see cref="CpuSeconds"/>) and with its children's (<see cref="CpuSecondsWithChildren"/>), in one reading.</summary>
    public static (double Own, double WithChildren) CpuTimes(int pid)
    {
        var fields = StatFields(pid);
        var own = Ticks(fields, 11, 2);
        // utime, stime, then cutime and cstime (the 16th and 17th overall).
        var ticks = Ticks(fields, 11, 4);
        var parent = pid.ToString(CultureInfo.InvariantCulture);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var child) || child == pid)
            {
                continue;
            }

            try
            {
                var c = StatFields(child);
                if (c[1] == parent)
                {
                    ticks += Ticks(c, 11, 2);
                }
            }
            catch (IOException)
            {
                // It ended between the listing and the read: its time is in the parent's cutime once reaped.
            }
        }

        return (own / 100.0, ticks / 100.0);
    }

    /// <summary>The fields of <c>/proc/{pid}/stat</c> after "(comm) ": state is index 0, ppid 1, utime (14th overall) 11, stime 12.</summary>
    private static string[] StatFields(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    private static long Ticks(string[] fields, int first, int count) =>
        Enumerable.Range(first, count).Sum(i => long.Parse(fields[i], CultureInfo.InvariantCulture));
}

/// <summary>A redis-server on a free loopback port with the append-only file on (fsync every second), in its own temp dir.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly Process? _process;
    private readonly string? _dir;

    private RedisServer(Process? process, string? dir, int port, int pid, ConnectionMultiplexer connection)
    {
        _process = process;
        _dir = dir;
        Port = port;
        Pid = pid;
        Connection = connection;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer Connection { get; }

    public int Pid { get; }

    public static async Task<RedisServer> StartAsync()
    {
        var port = Ports.Free();
        var dir = Directory.CreateTempSubdirectory("ow-bench-").FullName;
        var info = new ProcessStartInfo("redis-server", ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""])
        {
            RedirectStandardOutput = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        Children.Track(process);
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},abortConnect=true,connectTimeout=1000");
                return new RedisServer(process, dir, port, process.Id, connection);
            }
            catch (RedisConnectionException) when (clock.Elapsed < TimeSpan.FromSeconds(10) && !process.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>A server another process (the harness) started and owns: connected to, never stopped from here.</summary>
    public static async Task<RedisServer> AttachAsync(int port, int pid) =>
        new(null, null, port, pid, await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},abortConnect=true,connectTimeout=1000"));

    /// <summary>Bytes of memory Redis uses for data (INFO memory used_memory).</summary>
    public async Task<long> UsedMemoryAsync()
    {
        var info = (string?)await Connection.GetDatabase().ExecuteAsync("INFO", "memory") ?? "";
        var line = info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return long.Parse(line["used_memory:".Length..].Trim(), CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        if (_process is null || _dir is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Children.Forget(_process);
        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>A worker host (OrleansWorker.Silo) started from its built dll as a separate process on its own ports.</summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private const string ActivationsSeries = "microsoft_orleans_orleans_catalog_activations";
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, string name, int httpPort, int siloPort)
    {
        _process = process;
        Name = name;
        HttpPort = httpPort;
        SiloPort = siloPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Name { get; }

    public int HttpPort { get; }

    public int SiloPort { get; }

    public HttpClient Http { get; }

    public int Pid => _process.Id;

    /// <summary>The prefix of the job hash's <c>owner</c> field for jobs this silo runs.</summary>
    public string OwnerPrefix => $"127.0.0.1:{SiloPort}@";

    public static string DllPath() => Path.Combine(RepoRoot.Path(), "src", "OrleansWorker.Silo", "bin", "Release", "net10.0", "OrleansWorker.Silo.dll");

    /// <summary>Starts a silo (on <paramref name="redis"/>, or embedded when it is null) and waits until <c>GET /health/ready</c> answers 200.</summary>
    public static async Task<SiloProcess> StartAsync(string name, RedisServer? redis, string clusterId, IDictionary<string, string>? extra = null)
    {
        var dll = DllPath();
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is missing: run `dotnet build src/OrleansWorker.Silo -c Release` first.");
        }

        var (http, silo, gateway) = (Ports.Free(), Ports.Free(), Ports.Free());
        var info = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_HTTP_PORTS"] = http.ToString(CultureInfo.InvariantCulture),
            ["Orleans__Endpoints__SiloPort"] = silo.ToString(CultureInfo.InvariantCulture),
            ["Orleans__Endpoints__GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture),
            ["Orleans__Endpoints__AdvertisedIPAddress"] = "127.0.0.1",
            ["Orleans__ClusterId"] = clusterId,
        };
        if (redis is not null)
        {
            env["ConnectionStrings__redis"] = redis.ConnectionString;
        }
        else
        {
            env["Worker__Embedded__DataDirectory"] = Directory.CreateTempSubdirectory("ow-bench-data-").FullName;
        }

        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{name} did not start.");
        Children.Track(process);
        var host = new SiloProcess(process, name, http, silo);
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await Wait.UntilAsync(async () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{name} exited with {process.ExitCode}:\n{host.Output()}");
                }

                try
                {
                    using var response = await host.Http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                    return response.StatusCode == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(90), $"{name} to answer 200 on http://127.0.0.1:{http}/health/ready", 200);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    /// <summary>Resident set size of the silo process, in bytes.</summary>
    public long RssBytes() => Proc.RssBytes(_process.Id);

    public double CpuSeconds() => Proc.CpuSeconds(_process.Id);

    /// <summary>Sum of the <c>microsoft_orleans_orleans_catalog_activations</c> series of <c>GET /metrics</c>, and the job grains' share.</summary>
    public async Task<(long All, long Jobs)> ActivationsAsync()
    {
        var text = await Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        long all = 0, jobs = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(ActivationsSeries + "{", StringComparison.Ordinal) && !line.StartsWith(ActivationsSeries + " ", StringComparison.Ordinal))
            {
                continue;
            }

            var value = (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            all += value;
            if (line.Contains("grain_type=\"ow-run\"", StringComparison.Ordinal))
            {
                jobs += value;
            }
        }

        return (all, jobs);
    }

    /// <summary>kill -9.</summary>
    public void Kill() => _process.Kill();

    public string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 1_000_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        Children.Forget(_process);
        _process.Dispose();
        Http.Dispose();
    }
}

/// <summary>Collects the figures: printed as they come (<c>figure name value</c>) and as a markdown table at the end.</summary>
internal sealed class Report
{
    private readonly List<(string Label, string Value, string Notes)> _rows = [];
    private readonly List<string> _figures = [];

    public void Row(string label, string value, string notes)
    {
        _rows.Add((label, value, notes));
        Console.WriteLine($"| {label} | {value} | {notes} |");
    }

    public void Figure(string name, double value)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"figure {name} {value:0.###}");
        _figures.Add(line);
        Console.WriteLine(line);
    }

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine("| figure | value | notes |");
        Console.WriteLine("|---|---|---|");
        foreach (var (label, value, notes) in _rows)
        {
            Console.WriteLine($"| {label} | {value} | {notes} |");
        }

        Console.WriteLine();
        foreach (var line in _figures)
        {
            Console.WriteLine(line);
        }
    }
}
