using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// The shipped worker host in its default, embedded mode (no Redis, nothing installed) as real processes on one data
/// directory: accepted jobs survive kill -9 and SIGTERM, a backlog larger than the engine's memory loses nothing, and
/// a directory that cannot be used stops the process at start with the reason.
/// </summary>
[Collection("processes")]
public sealed class EmbeddedWorkerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "ow-embedded-" + Guid.NewGuid().ToString("N"));
    private readonly List<HostProcess> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        TempDirectory.Delete(_data);
    }

    private HostProcess Start(string name, Dictionary<string, string>? settings = null)
    {
        var env = new Dictionary<string, string> { ["Worker__Embedded__DataDirectory"] = _data };
        foreach (var (k, v) in settings ?? [])
        {
            env[k] = v;
        }

        var host = HostProcess.StartSilo(name, redis: null, env);
        _hosts.Add(host);
        return host;
    }

    private async Task<HostProcess> StartReadyAsync(string name, Dictionary<string, string>? settings = null)
    {
        var host = Start(name, settings);
        await host.WaitReadyAsync();
        return host;
    }

    private static async Task SubmitAsync(HostProcess via, IEnumerable<object> jobs)
    {
        foreach (var chunk in jobs.Chunk(200))
        {
            using var response = await via.Http.PostAsJsonAsync("/jobs/batch", chunk);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
    }

    private static Task<List<JsonElement>> WaitAllSucceededAsync(HostProcess via, string queue, int count) =>
        Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(via, queue), l => l.Count == count && l.All(j => j.GetProperty("state").GetString() == "Succeeded"),
            TimeSpan.FromSeconds(120), $"all {count} jobs of queue {queue} to succeed");

    [Fact]
    public async Task Kill9_After1000Accepted_RestartOnTheSameData_EveryAcceptedJobFinishes()
    {
        var first = await StartReadyAsync("embedded-1", new() { ["Worker__MaxConcurrentJobs"] = "20" });
        var ids = Enumerable.Range(0, 1000).Select(i => $"k-{i}").ToList();
        await SubmitAsync(first, ids.Select(id => new { type = "sleep", id, queue = "k", payload = new { ms = 50 } }));
        first.Kill();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));

        var second = await StartReadyAsync("embedded-2", new() { ["Worker__MaxConcurrentJobs"] = "50" });
        var jobs = await WaitAllSucceededAsync(second, "k", 1000);
        Assert.Equal(ids.Order(), jobs.Select(j => j.GetProperty("id").GetString()!).Order());
        var interrupted = jobs.Count(j => j.GetProperty("attempts").EnumerateArray().Any(a => a.GetProperty("outcome").GetString() == "Interrupted"));
        Assert.All(jobs, j => Assert.True(j.GetProperty("attempts").GetArrayLength() <= 2, $"{j.GetProperty("id")} ran at most twice"));
        output.WriteLine($"RESULT embedded kill -9: 1000 accepted, 1000 succeeded after the restart, 0 lost; {interrupted} were running at the kill and ran again (recorded Interrupted)");
    }

    [Fact]
    public async Task Sigterm_After1000Accepted_RestartOnTheSameData_EveryJobFinishes_NoneTwice()
    {
        var first = await StartReadyAsync("embedded-1", new() { ["Worker__MaxConcurrentJobs"] = "20", ["Worker__DrainTimeout"] = "00:00:10" });
        var ids = Enumerable.Range(0, 1000).Select(i => $"t-{i}").ToList();
        await SubmitAsync(first, ids.Select(id => new { type = "sleep", id, queue = "t", payload = new { ms = 50 } }));
        first.Terminate();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, first.ExitCode);

        var second = await StartReadyAsync("embedded-2");
        var jobs = await WaitAllSucceededAsync(second, "t", 1000);
        Assert.All(jobs, j => Assert.Equal(1, j.GetProperty("attempts").GetArrayLength()));
        output.WriteLine("RESULT embedded SIGTERM: 1000 accepted, 1000 succeeded after the restart, none ran twice");
    }

    [Fact]
    public async Task BacklogLargerThanThePageCache_LosesNothing()
    {
        // 256 KiB of page cache, 4,000 payloads of 1 KiB each: the backlog is 16× the engine's memory for data.
        var cache = new Dictionary<string, string> { ["Worker__Embedded__PageCacheBytes"] = "262144" };
        var first = await StartReadyAsync("embedded-1", new(cache) { ["Worker__Queues__0"] = "elsewhere" });
        var filler = new string('x', 1000);
        await SubmitAsync(first, Enumerable.Range(0, 4000).Select(i => new { type = "echo", id = $"b-{i}", queue = "backlog", payload = new { n = i, filler } }));
        var queued = await first.GetJsonAsync("/jobs?state=Queued&queue=backlog&limit=1000");
        Assert.Equal(1000, queued.GetProperty("items").GetArrayLength());
        first.Terminate();
        await first.WaitForExitAsync(TimeSpan.FromSeconds(30));
        long Size(string file) => new FileInfo(Path.Combine(_data, file)) is { Exists: true } f ? f.Length : 0;
        var size = Size("orleansworker.db") + Size("orleansworker.db-wal");
        Assert.True(size > 4 * 262144, $"the store holds more than the page cache (database and log: {size} bytes)");

        var second = await StartReadyAsync("embedded-2", cache);
        var jobs = await WaitAllSucceededAsync(second, "backlog", 4000);
        foreach (var job in jobs)
        {
            var n = int.Parse(job.GetProperty("id").GetString()!["b-".Length..]);
            Assert.Equal(n, job.GetProperty("result").GetProperty("n").GetInt32());
            Assert.Equal(filler, job.GetProperty("result").GetProperty("filler").GetString());
        }

        output.WriteLine($"RESULT embedded backlog: 4000 jobs of 1 KiB with a 256 KiB page cache (store {size / 1024} KiB), all succeeded with their payloads intact");
    }

    [Fact]
    public async Task SecondProcessOnTheSameDataDirectory_IsRefused_WithTheReason()
    {
        var first = await StartReadyAsync("embedded-1");
        var storeLine = first.Output.Split('\n').FirstOrDefault(l => l.Contains("Job store: ", StringComparison.Ordinal));
        Assert.True(storeLine is not null, $"the start-up log names the job store:\n{first.Output}");
        Assert.Contains(_data, storeLine, StringComparison.Ordinal);
        Assert.Contains("durability: ", storeLine, StringComparison.Ordinal);
        var second = Start("embedded-2");
        await second.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, second.ExitCode);
        Assert.Contains("is in use by another process", second.Output, StringComparison.Ordinal);
        Assert.Contains(_data, second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DataDirectoryNotWritable_StopsAtStart_NamingThePath()
    {
        // A read-only bind mount: not even root can write there.
        Directory.CreateDirectory(_data);
        (await Shell.RunAsync("mount", ["--bind", _data, _data])).EnsureSuccess();
        try
        {
            (await Shell.RunAsync("mount", ["-o", "remount,bind,ro", _data])).EnsureSuccess();
            Assert.ThrowsAny<Exception>(() => File.WriteAllText(Path.Combine(_data, "probe"), "x"));
            var host = Start("embedded-ro");
            await host.WaitForExitAsync(TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, host.ExitCode);
            Assert.Contains($"The embedded data directory '{_data}' is not writable", host.Output, StringComparison.Ordinal);
        }
        finally
        {
            (await Shell.RunAsync("umount", [_data])).EnsureSuccess();
        }
    }
}
