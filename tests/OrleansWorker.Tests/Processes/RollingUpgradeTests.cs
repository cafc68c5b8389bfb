using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// A rolling upgrade with real binaries of the previous release: a 0.4.1 worker, built from its commit in this
/// repository's history, and a worker of this build on one Redis. While both run, every job is stored in store layout 2
/// (what 0.4.1 reads), each version runs jobs the other stored and reads what the other wrote; once the 0.4.1 worker has
/// stopped, this build writes its newest layout (4), and nothing stored before is lost.
/// </summary>
[Collection("processes")]
public sealed class RollingUpgradeTests(ITestOutputHelper output) : ProcessClusterTest
{
    /// <summary>The last commit of 0.4.1 (store layout 2), the release before layout 3.</summary>
    private const string PreviousRelease = "50958a019b5c5b5a05d650b92b06350d2e2fbe22";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "ow-upgrade-" + Guid.NewGuid().ToString("N"));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task A041Worker_AndThisBuild_ShareOneRedis_InLayout2_ThenTheNewestOnceItStops_NothingLost()
    {
        var oldDll = await PublishPreviousReleaseAsync();
        Assert.StartsWith("0.4.1", FileVersionInfo.GetVersionInfo(oldDll).ProductVersion, StringComparison.Ordinal);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(Cluster.Redis.ConnectionString);
        var db = connection.GetDatabase();

        // Two slots each, so that with jobs of half a second both workers must run some.
        var slots = new Dictionary<string, string> { ["Worker__MaxConcurrentJobs"] = "2" };
        var old = await Cluster.StartSiloAsync("worker-0.4.1", slots, dll: oldDll);
        var current = await Cluster.StartSiloAsync("worker-current", slots);

        // Mixed: this build writes what 0.4.1 reads.
        await Poll.UntilAsync(() => Task.FromResult(current.Output), o => o.Contains("job store layout 2", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "this build to write layout 2 next to a 0.4.1 worker");
        var mixed = Enumerable.Range(0, 20).Select(i => $"mixed-old-{i}").Concat(Enumerable.Range(0, 20).Select(i => $"mixed-new-{i}")).ToList();
        await SubmitAsync(old, mixed.Where(id => id.StartsWith("mixed-old-", StringComparison.Ordinal)), "sleep", new { ms = 500 });
        await SubmitAsync(current, mixed.Where(id => id.StartsWith("mixed-new-", StringComparison.Ordinal)), "sleep", new { ms = 500 });

        // A job this build claims in layout 2 has `since`, from which 0.4.1 reads a running job's time.
        var runningHere = await Poll.UntilAsync(
            async () => (await current.GetJsonAsync("/jobs?queue=default&state=Running&limit=100")).GetProperty("items").EnumerateArray()
                .FirstOrDefault(j => Silo(j) == ProcessCluster.SiloPrefix(current)),
            j => j.ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(30), "a job running on this build's worker");
        var runningId = runningHere.GetProperty("id").GetString()!;
        Assert.False((await db.HashGetAsync($"{{ow:0}}:j:{runningId}", "since")).IsNullOrEmpty, $"{runningId}, claimed by this build in layout 2, has `since`");

        foreach (var id in mixed)
        {
            await Poll.UntilAsync(() => current.GetJsonAsync($"/jobs/{id}"), j => State(j) == "Succeeded", TimeSpan.FromSeconds(60), $"{id} to succeed");
        }

        var ranBy = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in mixed)
        {
            // Each version reads every job, whichever stored it and whichever ran it.
            var viaOld = await old.GetJsonAsync($"/jobs/{id}");
            Assert.Equal("Succeeded", State(viaOld));
            ranBy[id] = Silo((await current.GetJsonAsync($"/jobs/{id}")).GetProperty("attempts")[0]);
            Assert.Equal(ranBy[id], Silo(viaOld.GetProperty("attempts")[0]));
            Assert.True((await db.SortedSetScoreAsync("{ow:0}:all", id)).HasValue, $"{id} is in the index of every job (layout 2)");
            Assert.True(await db.HashExistsAsync($"{{ow:0}}:j:{id}", "ok"), $"{id}, succeeded in layout 2, has the `ok` field 0.4.1 reads its attempt from");
        }

        output.WriteLine($"mixed: {ranBy.Values.Count(s => s == ProcessCluster.SiloPrefix(old))} jobs ran on 0.4.1, {ranBy.Values.Count(s => s == ProcessCluster.SiloPrefix(current))} on this build");
        Assert.Contains(ranBy, r => r.Value == ProcessCluster.SiloPrefix(old) && r.Key.StartsWith("mixed-new-", StringComparison.Ordinal));
        Assert.Contains(ranBy, r => r.Value == ProcessCluster.SiloPrefix(current) && r.Key.StartsWith("mixed-old-", StringComparison.Ordinal));
        Assert.Equal(mixed.Order(StringComparer.Ordinal), (await ProcessCluster.ListQueueAsync(old, "default")).Select(j => j.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        Assert.DoesNotContain("job store layout 3", current.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("job store layout 4", current.Output, StringComparison.Ordinal);

        // The 0.4.1 worker leaves: this build switches to its newest layout.
        old.Terminate();
        await old.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, old.ExitCode);
        await Poll.UntilAsync(() => Task.FromResult(current.Output), o => o.Contains("job store layout 4", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "this build to write layout 4 once the 0.4.1 worker is gone");
        var after = Enumerable.Range(0, 20).Select(i => $"after-{i}").ToList();
        await SubmitAsync(current, after, "noop", null);
        foreach (var id in after)
        {
            await Poll.UntilAsync(() => current.GetJsonAsync($"/jobs/{id}"), j => State(j) == "Succeeded", TimeSpan.FromSeconds(30), $"{id} to succeed");
            Assert.False((await db.SortedSetScoreAsync("{ow:0}:all", id)).HasValue, $"{id}, stored in layout 4, is not in the index of every job");
            Assert.False(await db.HashExistsAsync($"{{ow:0}}:j:{id}", "ok"), $"{id}, succeeded in layout 4, has no `ok` field");
            Assert.Equal(ProcessCluster.SiloPrefix(current), Silo((await current.GetJsonAsync($"/jobs/{id}")).GetProperty("attempts")[0]));
        }

        var listed = await ProcessCluster.ListQueueAsync(current, "default");
        Assert.Equal(mixed.Concat(after).Order(StringComparer.Ordinal), listed.Select(j => j.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(listed, j => Assert.Equal("Succeeded", State(j)));
    }

    private static async Task SubmitAsync(HostProcess via, IEnumerable<string> ids, string type, object? payload)
    {
        using var response = await via.Http.PostAsJsonAsync("/jobs/batch", ids.Select(id => new { type, id, payload }).ToList());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private static string? State(JsonElement job) => job.GetProperty("state").GetString();

    /// <summary>The silo-address prefix (<c>127.0.0.1:port@</c>) of the silo an attempt or a running job names.</summary>
    private static string Silo(JsonElement attemptOrJob) =>
        attemptOrJob.TryGetProperty("silo", out var s) && s.GetString() is { } silo && silo.IndexOf('@', StringComparison.Ordinal) is var at and >= 0 ? silo[..(at + 1)] : "";

    /// <summary>
    /// Builds the worker host of <see cref="PreviousRelease"/> from this repository's history (<c>git archive</c>, then
    /// <c>dotnet publish</c>; ≈ 30 s with a warm NuGet cache). Needs a clone with history, as CI's is.
    /// </summary>
    private async Task<string> PublishPreviousReleaseAsync()
    {
        var repo = HostProcess.RepoRoot();
        var source = Path.Combine(_root, "src");
        var published = Path.Combine(_root, "out");
        Directory.CreateDirectory(source);
        await RunAsync($"commit {PreviousRelease} (0.4.1) in this clone's history", "git", ["-C", repo, "cat-file", "-e", PreviousRelease + "^{commit}"]);
        await RunAsync("git archive of 0.4.1", "bash", ["-c", $"git -C '{repo}' archive {PreviousRelease} | tar -x -C '{source}'"]);
        await RunAsync("dotnet publish of the 0.4.1 worker", "dotnet", ["publish", Path.Combine(source, "src", "OrleansWorker.Silo", "OrleansWorker.Silo.csproj"), "-c", "Release", "-o", published, "-nologo", "-v", "q"]);
        var dll = Path.Combine(published, "OrleansWorker.Silo.dll");
        Assert.True(File.Exists(dll), $"{dll} was published");
        return dll;
    }

    private async Task RunAsync(string what, string file, string[] args)
    {
        var clock = Stopwatch.StartNew();
        var result = await Shell.RunAsync(file, args, TimeSpan.FromMinutes(5));
        Assert.True(result.Succeeded, $"{what}: {result}");
        output.WriteLine($"{what}: {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
