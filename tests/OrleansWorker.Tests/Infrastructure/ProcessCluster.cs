using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>A redis-server plus any number of silo and API processes, all cleaned up on dispose (also when a test fails).</summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly List<HostProcess> _hosts = [];

    private ProcessCluster(RedisServer redis) => Redis = redis;

    public RedisServer Redis { get; }

    public static async Task<ProcessCluster> StartAsync() => new(await RedisServer.StartAsync());

    /// <summary>Starts a silo process on this cluster's Redis (and by default waits until it is ready).</summary>
    /// <param name="name">A name for messages.</param>
    /// <param name="settings">Environment settings that override the defaults.</param>
    /// <param name="waitReady">Whether to wait for its readiness.</param>
    /// <param name="dll">The silo dll (another build, e.g. a previous release's); this build's by default.</param>
    public async Task<HostProcess> StartSiloAsync(string name, IDictionary<string, string>? settings = null, bool waitReady = true, string? dll = null)
    {
        var silo = HostProcess.StartSilo(name, Redis.ConnectionString, settings, dll);
        _hosts.Add(silo);
        if (waitReady)
        {
            await silo.WaitReadyAsync();
        }

        return silo;
    }

    public async Task<HostProcess> StartApiAsync(IDictionary<string, string>? settings = null)
    {
        var api = HostProcess.StartApi(Redis.ConnectionString, settings);
        _hosts.Add(api);
        await api.WaitReadyAsync();
        return api;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        await Redis.DisposeAsync();
    }

    /// <summary>Every job of <paramref name="queue"/>, read through <paramref name="via"/>'s listing endpoint, each once (as listed last).</summary>
    public static async Task<List<JsonElement>> ListQueueAsync(HostProcess via, string queue)
    {
        var jobs = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await via.Http.GetFromJsonAsync<JsonElement>($"/jobs?queue={queue}&limit=1000{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            jobs.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        // Without a state the API lists each state in turn: a job that moved on between two pages can come twice (the
        // later is the newer) or, if it moved back to a part already read, not at all until a later listing.
        var last = jobs.Select((j, i) => (Id: j.GetProperty("id").GetString()!, Index: i))
            .GroupBy(x => x.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Max(x => x.Index), StringComparer.Ordinal);
        return jobs.Where((j, i) => last[j.GetProperty("id").GetString()!] == i).ToList();
    }

    /// <summary>The silo-address prefix (<c>127.0.0.1:port@</c>) that attempts and views name a silo by.</summary>
    public static string SiloPrefix(HostProcess silo) => $"127.0.0.1:{silo.SiloPort}@";
}
