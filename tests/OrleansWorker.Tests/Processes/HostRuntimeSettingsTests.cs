using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// The runtime settings the shipped hosts are measured with (docs/benchmarks.md) are in what they run with: their
/// built <c>runtimeconfig.json</c>, which <c>dotnet publish</c> copies into the images.
/// </summary>
public sealed class HostRuntimeSettingsTests
{
    [Theory]
    [InlineData("OrleansWorker.Silo")]
    [InlineData("OrleansWorker.Api")]
    public void TheHost_RunsWithWorkstationGc_AndThreadPoolWorkersThatDoNotSpin(string project)
    {
        var path = Path.ChangeExtension(HostProcess.ProjectDll(project), ".runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing: build the solution first.");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.True(properties.TryGetProperty("System.Threading.ThreadPool.UnfairSemaphoreSpinLimit", out var spin),
            $"{project} sets no spin limit for the thread pool");
        Assert.Equal(0, spin.GetInt32());
        Assert.True(properties.TryGetProperty("System.GC.Server", out var server), $"{project} does not choose its GC");
        Assert.False(server.GetBoolean());
    }

    /// <summary>
    /// The worker keeps arrays up to 1 MiB off the large-object heap: a submission's store call is one array of ≈ 15
    /// arguments per job (120 KB for 500 jobs) that dies within milliseconds, and on that heap each one counted towards a
    /// full collection (docs/benchmarks.md, "the large-object threshold"). The benchmark's in-process silo runs with the
    /// same threshold, so what it measures is what ships.
    /// </summary>
    [Fact]
    public void TheWorker_AndTheBenchmark_KeepArraysUpTo1MiBOffTheLargeObjectHeap()
    {
        var root = HostProcess.RepoRoot();
        var configs = new[]
        {
            Path.ChangeExtension(HostProcess.ProjectDll("OrleansWorker.Silo"), ".runtimeconfig.json"),
            Path.Combine(root, "tests", "OrleansWorker.Benchmarks", "bin", HostProcess.BuildConfiguration(), "net10.0", "OrleansWorker.Benchmarks.runtimeconfig.json"),
        };
        foreach (var path in configs)
        {
            Assert.True(File.Exists(path), $"{path} is missing: build the solution first.");
            using var config = JsonDocument.Parse(File.ReadAllText(path));
            var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
            Assert.True(properties.TryGetProperty("System.GC.LOHThreshold", out var threshold), $"{path} sets no large-object threshold");
            Assert.Equal(1024 * 1024, threshold.GetInt32());
        }
    }

    /// <summary>
    /// The one runtime setting that only an environment variable carries: the JIT's tier-up without its start-up delay
    /// (docs/getting-started.md). The worker image sets it, the Silo project's launch profile sets it for
    /// <c>dotnet run</c> (the README's command; it uses the first profile), and the benchmark harness runs with the same
    /// value, so what it measures is what ships.
    /// </summary>
    [Fact]
    public void TheWorkerImage_TheSiloLaunchProfile_AndTheBenchmark_TierUpWithoutTheStartupDelay()
    {
        var root = HostProcess.RepoRoot();
        var image = File.ReadAllLines(Path.Combine(root, "docker", "worker.Dockerfile"))
            .Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)).Select(l => l["ENV ".Length..].Trim()).ToList();
        Assert.Contains("DOTNET_TC_CallCountingDelayMs=0", image);
        Assert.Equal("0", FirstProfileVariable(Path.Combine(root, "src", "OrleansWorker.Silo", "Properties", "launchSettings.json"), "DOTNET_TC_CallCountingDelayMs"));
        Assert.Equal("0", FirstProfileVariable(Path.Combine(root, "tests", "OrleansWorker.Benchmarks", "Properties", "launchSettings.json"), "DOTNET_TC_CallCountingDelayMs"));
    }

    private static string? FirstProfileVariable(string launchSettings, string name)
    {
        Assert.True(File.Exists(launchSettings), $"{launchSettings} is missing");
        using var json = JsonDocument.Parse(File.ReadAllText(launchSettings));
        var first = json.RootElement.GetProperty("profiles").EnumerateObject().First().Value;
        Assert.Equal("Project", first.GetProperty("commandName").GetString());
        return first.TryGetProperty("environmentVariables", out var variables) && variables.TryGetProperty(name, out var value) ? value.GetString() : null;
    }
}
