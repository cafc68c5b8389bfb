using System.Diagnostics;
using System.Text;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>The outcome of a command run by <see cref="Shell"/>.</summary>
public sealed record ShellResult(string Command, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws with the command's output when it did not exit with 0.</summary>
    public ShellResult EnsureSuccess() =>
        Succeeded ? this : throw new InvalidOperationException($"'{Command}' exited with {ExitCode}: {StandardError.Trim()} {StandardOutput.Trim()}");

    public override string ToString() => $"'{Command}' -> {ExitCode}: {StandardOutput.Trim()} {StandardError.Trim()}";
}

/// <summary>Runs a short-lived command (no shell involved: arguments are passed as they are) and collects its output.</summary>
public static class Shell
{
    /// <summary>Runs <paramref name="fileName"/> to its end; kills it (and its children) when it outlives <paramref name="timeout"/>.</summary>
    public static async Task<ShellResult> RunAsync(string fileName, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        var command = fileName + " " + string.Join(' ', info.ArgumentList);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"'{command}' did not start.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"'{command}' did not finish within {(timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds:0.#} s; output: {await stdout} {await stderr}");
        }

        return new ShellResult(command, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Synchronous <see cref="RunAsync"/>, for static checks that cannot await.</summary>
    public static ShellResult Run(string fileName, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        var command = fileName + " " + string.Join(' ', info.ArgumentList);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"'{command}' did not start.");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"'{command}' did not finish in time.");
        }

        process.WaitForExit();
        return new ShellResult(command, process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>The full path of <paramref name="name"/> on PATH (or in /usr/sbin, /usr/bin, /usr/local/bin), or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin", "/usr/local/bin"])
            .Select(p => Path.Combine(p, name)).FirstOrDefault(File.Exists);

    /// <summary>Collects the lines a process prints into a bounded buffer (the newest <paramref name="maxChars"/> characters).</summary>
    internal static void Capture(Process process, StringBuilder sink, int maxChars = 64 * 1024)
    {
        void Append(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (sink)
            {
                sink.AppendLine(e.Data);
                if (sink.Length > maxChars)
                {
                    sink.Remove(0, sink.Length - maxChars);
                }
            }
        }

        process.OutputDataReceived += Append;
        process.ErrorDataReceived += Append;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }
}
