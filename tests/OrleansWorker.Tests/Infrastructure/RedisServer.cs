using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>A real <c>redis-server</c> process on a free loopback port, append-only file on, in a temp directory.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;
    private readonly string[] _bind;

    private RedisServer(int port, string directory, string[] bind)
    {
        Port = port;
        Directory = directory;
        _bind = bind;
    }

    public int Port { get; }

    public string Directory { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>
    /// Starts a server listening on 127.0.0.1 and on <paramref name="extraBindAddresses"/> (e.g. a
    /// <see cref="NetworkNamespace.HostAddress"/>, for processes inside a namespace). With extra addresses, protected mode is
    /// off: redis-server 7 otherwise answers DENIED to every non-loopback client that has no password, even on an explicit bind.
    /// </summary>
    public static async Task<RedisServer> StartAsync(IEnumerable<string>? extraBindAddresses = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ow-redis-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        var server = new RedisServer(FreePort(), dir, [.. extraBindAddresses ?? []]);
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>Starts (again) the server on the same port and directory; the append-only file brings its data back.</summary>
    public async Task StartProcessAsync()
    {
        var binary = FindBinary() ?? throw new InvalidOperationException(
            "redis-server was not found on PATH. Install it (Debian/Ubuntu: 'apt-get install -y redis-server') or run 'bash .ci/run', which installs it.");
        string[] bind = _bind.Length == 0 ? ["--bind", "127.0.0.1"] : ["--bind", .. _bind, "127.0.0.1", "--protected-mode", "no"];
        var info = new ProcessStartInfo(binary, ["--port", Port.ToString(), .. bind, "--dir", Directory, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Poll.UntilAsync(async () =>
        {
            await using var conn = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},connectTimeout=500");
            await conn.GetDatabase().PingAsync();
            return true;
        }, TimeSpan.FromSeconds(20), $"redis-server to answer PING on port {Port}");
    }

    /// <summary>Stops the server (SIGKILL); data written with appendfsync always survives.</summary>
    public async Task StopProcessAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopProcessAsync();
        _process?.Dispose();
        TempDirectory.Delete(Directory);
    }

    private static readonly Lock PortsLock = new();
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A loopback port free now and never handed out before in this test run. The kernel may give the same ephemeral
    /// port to two binds in a row once the first is closed (seen in CI: a silo got one port for HTTP and for Orleans, and
    /// died with "address already in use"), and tests start their processes after asking for all their ports.
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            lock (PortsLock)
            {
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    private static string? FindBinary() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin")
            .Select(p => Path.Combine(p, "redis-server")).FirstOrDefault(File.Exists);
}
