using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Processes;

/// <summary>The Orleans dashboard as a person sees it: rendered by headless Chromium (Debian's), not just fetched.</summary>
[Collection("processes")]
public sealed class DashboardBrowserTests
{
    [Fact]
    public async Task Dashboard_RenderedInChromium_ListsTheJobGrainType()
    {
        await using var worker = HostProcess.StartSilo("dashboard-worker", redis: null);
        await worker.WaitReadyAsync();
        using (var response = await worker.Http.PostAsJsonAsync("/jobs", new { type = "sleep", id = "dashboard-job", payload = new { ms = 60000 } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await Poll.UntilAsync(() => worker.GetJsonAsync("/jobs/dashboard-job"), j => j.GetProperty("state").GetString() == "Running", TimeSpan.FromSeconds(20), "the job (and so its grain) to be running");
        var dom = await Poll.UntilAsync(() => DumpDomAsync($"http://127.0.0.1:{worker.HttpPort}/dashboard/#/grains"), d => d.Contains("OrleansWorker.JobGrain", StringComparison.Ordinal),
            TimeSpan.FromSeconds(90), "the dashboard's grain list, rendered by Chromium, to show OrleansWorker.JobGrain");
        Assert.Contains("OrleansWorker.JobManagerGrain", dom, StringComparison.Ordinal);
    }

    private static async Task<string> DumpDomAsync(string url)
    {
        var profile = Path.Combine(Path.GetTempPath(), "ow-chromium-" + Guid.NewGuid().ToString("N"));
        var info = new ProcessStartInfo("chromium",
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--virtual-time-budget=8000", "--dump-dom", url,
        ])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("chromium is missing: apt-get install -y chromium (bash scripts/test.sh installs it).", ex);
        }

        using (process)
        {
            var dom = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            TempDirectory.Delete(profile);

            return await dom;
        }
    }
}
