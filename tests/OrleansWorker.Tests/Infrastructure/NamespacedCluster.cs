using System.Globalization;
using System.Text.Json;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>
/// A cluster that can be partitioned: a <see cref="NetworkNamespace"/>, a redis-server on the host reachable from inside it,
/// silos on the host (advertising <see cref="NetworkNamespace.HostAddress"/>, so the namespace can reach them) and silos inside
/// the namespace (advertising <see cref="NetworkNamespace.NamespaceAddress"/>), and API processes on the host. Dispose kills
/// every process it started (also replaced ones), then stops Redis, then deletes the namespace and its veth pair, each step
/// even when an earlier one failed.
/// </summary>
public sealed class NamespacedCluster : IAsyncDisposable
{
    private readonly List<HostProcess> _hosts = [];
    private readonly Dictionary<HostProcess, string> _advertised = [];
    private readonly HashSet<HostProcess> _inside = [];

    private NamespacedCluster(NetworkNamespace ns, RedisServer redis)
    {
        Namespace = ns;
        Redis = redis;
    }

    public NetworkNamespace Namespace { get; }

    public RedisServer Redis { get; }

    /// <summary>Every process started so far, in order (dead ones included).</summary>
    public IReadOnlyList<HostProcess> Processes
    {
        get
        {
            lock (_hosts)
            {
                return [.. _hosts];
            }
        }
    }

    public static async Task<NamespacedCluster> StartAsync()
    {
        Assert.True(NetworkNamespace.IsSupported, "Partition tests need root and iproute2: " + NetworkNamespace.UnsupportedReason);
        var ns = await NetworkNamespace.CreateAsync();
        try
        {
            return new NamespacedCluster(ns, await RedisServer.StartAsync([ns.HostAddress]));
        }
        catch
        {
            await ns.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a silo on the host (not waiting for it to be ready).</summary>
    public HostProcess StartHostSilo(string name, IDictionary<string, string>? settings = null)
    {
        var env = With(settings, Namespace.HostAddress);
        return Track(HostProcess.StartSilo(name, Redis.ConnectionString, env), Namespace.HostAddress, inside: false);
    }

    /// <summary>Starts a silo inside the namespace, reaching Redis at the host's veth address (not waiting for it to be ready).</summary>
    public HostProcess StartNamespacedSilo(string name, IDictionary<string, string>? settings = null)
    {
        var env = With(settings, Namespace.NamespaceAddress);
        var silo = HostProcess.StartSilo(name, $"{Namespace.HostAddress}:{Redis.Port.ToString(CultureInfo.InvariantCulture)}", env,
            wrap: Namespace.Wrap, httpHost: Namespace.NamespaceAddress);
        return Track(silo, Namespace.NamespaceAddress, inside: true);
    }

    /// <summary>Starts the API on the host and waits until it is ready.</summary>
    public async Task<HostProcess> StartApiAsync(IDictionary<string, string>? settings = null)
    {
        var api = Track(HostProcess.StartApi(Redis.ConnectionString, Timestamped(settings)), "127.0.0.1", inside: false);
        await api.WaitReadyAsync();
        return api;
    }

    /// <summary>Whether <paramref name="silo"/> runs inside the namespace.</summary>
    public bool IsInside(HostProcess silo)
    {
        lock (_hosts)
        {
            return _inside.Contains(silo);
        }
    }

    /// <summary>The prefix (<c>address:siloPort@</c>) by which job views and attempts name <paramref name="silo"/>.</summary>
    public string SiloPrefix(HostProcess silo)
    {
        lock (_hosts)
        {
            return $"{_advertised[silo]}:{silo.SiloPort.ToString(CultureInfo.InvariantCulture)}@";
        }
    }

    /// <summary>Which started silo an attempt's or view's silo address names, or null.</summary>
    public HostProcess? SiloOf(string? address)
    {
        if (address is null)
        {
            return null;
        }

        lock (_hosts)
        {
            return _hosts.FirstOrDefault(h => h.SiloPort != 0 && address.StartsWith($"{_advertised[h]}:{h.SiloPort.ToString(CultureInfo.InvariantCulture)}@", StringComparison.Ordinal));
        }
    }

    /// <summary>Whether the silo address <paramref name="address"/> (as in attempts) is that of a silo inside the namespace.</summary>
    public bool IsInsideAddress(string? address) => address?.StartsWith(Namespace.NamespaceAddress + ":", StringComparison.Ordinal) == true;

    /// <summary>Writes every process's output to <paramref name="directory"/> (one file each) and returns the directory.</summary>
    public string SaveLogs(string directory)
    {
        Directory.CreateDirectory(directory);
        var hosts = Processes;
        for (var i = 0; i < hosts.Count; i++)
        {
            File.WriteAllText(Path.Combine(directory, $"{i:00}-{hosts[i].Name}.log"), hosts[i].Output);
        }

        return directory;
    }

    /// <summary>Every job of <paramref name="queue"/>, read through <paramref name="via"/>.</summary>
    public static async Task<JobList> ListQueueAsync(HostProcess via, string queue) => [.. await ProcessCluster.ListQueueAsync(via, queue)];

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Processes)
        {
            try
            {
                await host.DisposeAsync();
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }

        try
        {
            await Redis.DisposeAsync();
        }
        finally
        {
            await Namespace.DisposeAsync();
        }
    }

    private static Dictionary<string, string> With(IDictionary<string, string>? settings, string advertised)
    {
        var env = Timestamped(settings);
        env["Orleans__Endpoints__AdvertisedIPAddress"] = advertised;
        return env;
    }

    /// <summary>Log lines with a UTC timestamp, so that the processes' logs can be laid side by side on one timeline.</summary>
    private static Dictionary<string, string> Timestamped(IDictionary<string, string>? settings)
    {
        var env = new Dictionary<string, string>
        {
            ["Logging__Console__TimestampFormat"] = "HH:mm:ss.fff ",
            ["Logging__Console__UseUtcTimestamp"] = "true",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        return env;
    }

    private HostProcess Track(HostProcess host, string advertised, bool inside)
    {
        lock (_hosts)
        {
            _hosts.Add(host);
            _advertised[host] = advertised;
            if (inside)
            {
                _inside.Add(host);
            }
        }

        return host;
    }
}

/// <summary>Jobs as the HTTP API lists them; prints as a count per state (for timeout messages).</summary>
public sealed class JobList : List<JsonElement>
{
    public override string ToString() =>
        $"{Count} jobs: " + string.Join(", ", this.GroupBy(j => j.GetProperty("state").GetString()).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
}
