using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Samples;

/// <summary>
/// Packs the OrleansWorker packages once per test run, under a version of this run's own
/// (<c>0.4.3-t{stamp}</c>, so that no package of the same version in the NuGet cache can stand in for them), into the
/// repository's <c>artifacts/packages</c> feed that the samples' NuGet.config reads.
/// </summary>
public static class PackagedBuild
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _version;

    public static string Feed => Path.Combine(HostProcess.RepoRoot(), "artifacts", "packages");

    public static async Task<string> PackAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_version is not null)
            {
                return _version;
            }

            var prefix = File.ReadAllText(Path.Combine(HostProcess.RepoRoot(), "Directory.Build.props")) is var props
                && props.IndexOf("<VersionPrefix>", StringComparison.Ordinal) is var start and >= 0
                ? props[(start + "<VersionPrefix>".Length)..props.IndexOf("</VersionPrefix>", StringComparison.Ordinal)]
                : throw new InvalidOperationException("VersionPrefix not found in Directory.Build.props.");
            var version = $"{prefix}-t{DateTimeOffset.UtcNow:yyyyMMddHHmmss}{Environment.ProcessId}";
            var result = await Shell.RunAsync("bash", [Path.Combine(HostProcess.RepoRoot(), "scripts", "pack.sh"), Feed, version], TimeSpan.FromMinutes(10));
            Assert.True(result.Succeeded, $"scripts/pack.sh failed: {result}");
            Assert.True(File.Exists(Path.Combine(Feed, $"OrleansWorker.Server.{version}.nupkg")), $"the Server package {version} is in {Feed}");
            return _version = version;
        }
        finally
        {
            Gate.Release();
        }
    }
}
