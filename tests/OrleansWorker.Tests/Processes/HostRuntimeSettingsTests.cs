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
}
