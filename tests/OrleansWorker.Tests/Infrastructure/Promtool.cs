using System.Diagnostics;
using System.Globalization;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>Runs <c>promtool check metrics</c> and reads values out of a Prometheus exposition.</summary>
public static class Promtool
{
    public static async Task<(int ExitCode, string Output)> CheckMetricsAsync(string exposition)
    {
        var info = new ProcessStartInfo("promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        Process? process;
        try
        {
            process = Process.Start(info);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("promtool is missing: apt-get install -y prometheus (bash scripts/test.sh installs it).", ex);
        }

        using (process)
        {
            await process!.StandardInput.WriteAsync(exposition);
            process.StandardInput.Close();
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, output);
        }
    }

    /// <summary>Sums the samples of <paramref name="metric"/> whose labels contain <paramref name="labelFilter"/>.</summary>
    public static double Sum(string exposition, string metric, string labelFilter = "") =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(metric, StringComparison.Ordinal) && (l.Length > metric.Length && l[metric.Length] is '{' or ' ') && l.Contains(labelFilter, StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[^1], CultureInfo.InvariantCulture));
}
