using System.Diagnostics;
using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Samples;

/// <summary>
/// Runs every shell block of docs/getting-started.md, in order and as written, in an empty folder (against this run's
/// packed packages and a real redis-server), so the guide cannot rot.
/// </summary>
[Collection("processes")]
public sealed partial class GettingStartedTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "ow-getting-started-" + Guid.NewGuid().ToString("N"));
    private RedisServer? _redis;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        _redis = await RedisServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        TempDirectory.Delete(_work);
    }

    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    [Fact]
    public async Task EveryCommandOfTheGuide_Works()
    {
        var version = await PackagedBuild.PackAsync();
        var guide = await File.ReadAllTextAsync(Path.Combine(HostProcess.RepoRoot(), "docs", "getting-started.md"));
        var blocks = BashBlock().Matches(guide).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 5, $"the guide has its shell blocks (found {blocks.Count})");
        var script = Path.Combine(_work, "guide.sh");
        await File.WriteAllTextAsync(script, "set -euo pipefail\nset -x\n" + string.Join("\n", blocks));

        var info = new ProcessStartInfo("setsid", ["bash", script]) { WorkingDirectory = _work, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["OW_REPO"] = HostProcess.RepoRoot();
        info.Environment["OW_FEED"] = PackagedBuild.Feed;
        info.Environment["OW_VERSION"] = version;
        info.Environment["REDIS"] = _redis!.ConnectionString;
        info.Environment["PORT"] = RedisServer.FreePort().ToString();
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        }
        finally
        {
            // The guide's apps run in the script's process group: end whatever is left of it.
            using var kill = Process.Start("kill", ["-KILL", "--", $"-{process.Id}"]);
            await kill!.WaitForExitAsync();
        }

        var log = $"{await stdout}\n{await stderr}";
        output.WriteLine(log.Length > 20_000 ? log[^20_000..] : log);
        Assert.True(process.ExitCode == 0, $"the guide's commands failed (exit {process.ExitCode}); see the output");
        Assert.Contains("\"result\":\"Hello, Ada!\"", log, StringComparison.Ordinal);
        Assert.Contains("\"result\":\"Hello, Grace!\"", log, StringComparison.Ordinal);
    }
}
