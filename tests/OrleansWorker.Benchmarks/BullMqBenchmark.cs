using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansWorker.Benchmarks;

/// <summary>
/// BullMQ (Node; the exact version is pinned in <c>bullmq/package.json</c> and its lock file) on the same redis-server as
/// the client and hangfire phases (database 2, a fresh queue name per run). Per N and mode, one <c>node bullmq/bench.mjs</c>
/// process with one <c>Queue</c> and one <c>Worker</c> (concurrency 50, no-op processor, BullMQ's default completion storage):
/// <c>bulk</c> = <c>Queue.addBulk</c> of 1,000 (4 in flight), <c>single</c> = <c>Queue.add</c> one by one (64 in flight).
/// Counted like OrleansWorker: bench.mjs times from its first add until the worker's <c>completed</c> event (emitted once
/// the completion is stored in Redis) has fired for all N jobs; the harness reads node's and redis-server's CPU from
/// /proc over the same interval (between bench.mjs's <c>start</c> and result lines).
/// </summary>
internal static class BullMqBenchmark
{
    private const int Db = 2;
    private const int WorkerConcurrency = 50;

    public static async Task RunAsync(BenchOptions options, RedisServer redis, Report report, Dictionary<string, double> throughput)
    {
        var dir = Path.Combine(RepoRoot.Path(), "tests", "OrleansWorker.Benchmarks", "bullmq");
        var version = await EnsureDependenciesAsync(dir);
        foreach (var n in options.Ns)
        {
            foreach (var mode in new[] { "bulk", "single" })
            {
                await RunOnceAsync(dir, version, redis, n, mode, options.Warmup, report, throughput);
            }
        }
    }

    /// <summary>Checks node and npm, runs <c>npm ci</c> once if <c>node_modules</c> lacks bullmq; returns the installed bullmq version.</summary>
    private static async Task<string> EnsureDependenciesAsync(string dir)
    {
        var (nodeExit, nodeVersion) = await RunToEndAsync("node", ["--version"], dir, TimeSpan.FromSeconds(30));
        var major = nodeExit == 0 && nodeVersion.StartsWith('v') && int.TryParse(nodeVersion[1..].Split('.')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) ? m : 0;
        if (major < 20)
        {
            throw new InvalidOperationException($"The bullmq phase needs Node.js ≥ 20 on PATH; `node --version` answered {nodeExit}: {nodeVersion.Trim()}");
        }

        var installed = Path.Combine(dir, "node_modules", "bullmq", "package.json");
        if (!File.Exists(installed))
        {
            Console.WriteLine($"bullmq: npm ci in {dir}");
            var (npmExit, npmOutput) = await RunToEndAsync("npm", ["ci", "--no-audit", "--no-fund"], dir, TimeSpan.FromMinutes(10));
            if (npmExit != 0 || !File.Exists(installed))
            {
                throw new InvalidOperationException($"`npm ci --no-audit --no-fund` in {dir} failed ({npmExit}):\n{npmOutput}");
            }
        }

        using var package = JsonDocument.Parse(await File.ReadAllTextAsync(installed));
        return package.RootElement.GetProperty("version").GetString() ?? "?";
    }

    private static async Task RunOnceAsync(string dir, string version, RedisServer redis, int n, string mode, int warmup, Report report, Dictionary<string, double> throughput)
    {
        var queue = $"bench-{mode}-n{n}-{Guid.NewGuid():N}";
        var info = new ProcessStartInfo("node",
        [
            "bench.mjs", "--host", "127.0.0.1", "--port", redis.Port.ToString(CultureInfo.InvariantCulture), "--db", Db.ToString(CultureInfo.InvariantCulture),
            "--n", n.ToString(CultureInfo.InvariantCulture), "--mode", mode, "--concurrency", WorkerConcurrency.ToString(CultureInfo.InvariantCulture),
            "--queue", queue, "--hold", "--warmup", warmup.ToString(CultureInfo.InvariantCulture),
        ])
        {
            WorkingDirectory = dir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Start(info);
        Children.Track(process);
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        string Errors()
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }

        var timeout = TimeSpan.FromSeconds(Math.Max(600, n / 100));
        try
        {
            using var deadline = new CancellationTokenSource(timeout);
            CpuMeter? cpu = null;
            var redisStart = 0.0;
            double seconds, submitSeconds, nodeCpu, redisCpu;
            string cpuText;
            while (true)
            {
                string? line;
                try
                {
                    line = await process.StandardOutput.ReadLineAsync(deadline.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for BullMQ ({mode}, N = {n}) to complete.\n{Errors()}");
                }

                if (line is null)
                {
                    await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                    throw new InvalidOperationException($"bench.mjs exited with {process.ExitCode} before its result ({mode}, N = {n}):\n{Errors()}");
                }

                if (!line.StartsWith('{'))
                {
                    continue;
                }

                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.TryGetProperty("event", out var ev) && ev.GetString() == "start")
                {
                    cpu = new CpuMeter(("node", process.Id), ("redis", redis.Pid));
                    redisStart = Proc.CpuSecondsWithChildren(redis.Pid);
                    continue;
                }

                if (!root.TryGetProperty("jobsPerSecond", out _))
                {
                    continue;
                }

                redisCpu = Proc.CpuSecondsWithChildren(redis.Pid) - redisStart;
                if (cpu is null)
                {
                    throw new InvalidOperationException($"bench.mjs printed its result without a start line: {line}");
                }

                // Read while node still runs (it waits for stdin to close): the CPU meter reads /proc/<node pid>.
                cpuText = cpu.Describe("harness", report, $"bullmq_{mode}_n{n}");
                if (!root.GetProperty("ok").GetBoolean())
                {
                    throw new InvalidOperationException($"BullMQ's job counts do not add up ({mode}, N = {n}): {line}\n{Errors()}");
                }

                seconds = root.GetProperty("seconds").GetDouble();
                submitSeconds = root.GetProperty("submitSeconds").GetDouble();
                nodeCpu = root.GetProperty("nodeCpuSeconds").GetDouble();
                break;
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"bench.mjs exited with {process.ExitCode} ({mode}, N = {n}):\n{Errors()}");
            }

            var rate = n / seconds;
            var nodeUs = nodeCpu / n * 1e6;
            var redisUs = redisCpu / n * 1e6;
            throughput[$"bullmq_{mode}_n{n}"] = rate;
            var how = mode == "bulk" ? "`Queue.addBulk` of 1,000 (4 in flight)" : "`Queue.add` one by one (64 in flight)";
            report.Row($"BullMQ {version}, {how}, one `Worker` (concurrency {WorkerConcurrency}) in the same node process, N = {n:N0}", $"**{rate:N0}**",
                $"submit {submitSeconds:0.00} s, all completed after {seconds:0.00} s; {cpuText}");
            report.Row($"BullMQ {version} CPU per job, {mode}, N = {n:N0}", $"node **{nodeUs:0} µs** · redis **{redisUs:0} µs**",
                $"node: process.cpuUsage over the timed run; redis-server: /proc/<pid>/stat over the same interval, with its AOF-rewrite child");
            report.Figure($"throughput_bullmq_{mode}_n{n}_jobs_per_second", Math.Round(rate));
            report.Figure($"bullmq_{mode}_n{n}_node_cpu_us_per_job", Math.Round(nodeUs, 1));
            report.Figure($"bullmq_{mode}_n{n}_redis_cpu_us_per_job", Math.Round(redisUs, 1));
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"bench.mjs printed a line that is not JSON ({mode}, N = {n}): {e.Message}\n{Errors()}", e);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            Children.Forget(process);
        }
    }

    /// <summary>Runs a command to its end (tracked, killed on timeout); returns its exit code and stdout + stderr.</summary>
    private static async Task<(int ExitCode, string Output)> RunToEndAsync(string file, string[] args, string dir, TimeSpan timeout)
    {
        using var process = Start(new ProcessStartInfo(file, args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true });
        Children.Track(process);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(timeout);
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            Children.Forget(process);
        }
    }

    private static Process Start(ProcessStartInfo info)
    {
        try
        {
            return Process.Start(info) ?? throw new InvalidOperationException($"`{info.FileName}` did not start.");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The bullmq phase needs Node.js (≥ 20) and npm on PATH; starting `{info.FileName}` failed: {e.Message}. Install them or leave bullmq out of --phases.", e);
        }
    }
}
