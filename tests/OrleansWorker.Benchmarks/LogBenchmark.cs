using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OrleansWorker.ServiceDefaults;

namespace OrleansWorker.Benchmarks;

/// <summary>
/// Phase <c>log</c>: the CPU a job line costs the process that logs it, with .NET's console logger and with the hosts'
/// batched one (<see cref="BatchedConsoleLoggerProvider"/>). Each variant runs in a child process configured as the
/// hosts configure their console (<c>AddConsoleLogDefaults</c>), whose standard output is a pipe this process reads, as
/// a container runtime does; the child logs the worker's completion line with its scope from several threads and
/// reports its own CPU time from the first line to the last one written.
/// </summary>
internal static partial class LogBenchmark
{
    private const int Lines = 200_000, Threads = 4;

    public static async Task RunAsync(Report report)
    {
        foreach (var variant in new[] { "dotnet", "batched", "dotnet", "batched" })
        {
            var info = new ProcessStartInfo("dotnet", [typeof(LogBenchmark).Assembly.Location, "--log-child", variant])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var child = Process.Start(info) ?? throw new InvalidOperationException("the log child did not start");
            Children.Track(child);
            var lines = 0L;
            var reading = Task.Run(async () =>
            {
                var buffer = new char[64 * 1024];
                int read;
                while ((read = await child.StandardOutput.ReadAsync(buffer)) > 0)
                {
                    lines += buffer.AsSpan(0, read).Count('\n');
                }
            });
            var error = await child.StandardError.ReadToEndAsync();
            await child.WaitForExitAsync();
            await reading;
            var result = error.Split('\n').FirstOrDefault(l => l.StartsWith("cpu_us ", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"the log child ({variant}) failed: {error}");
            var cpu = double.Parse(result["cpu_us ".Length..], CultureInfo.InvariantCulture);
            if (lines < Lines)
            {
                throw new InvalidOperationException($"the log child ({variant}) wrote {lines} of {Lines} lines");
            }

            var perLine = cpu / Lines;
            report.Row($"console job line, {(variant == "dotnet" ? ".NET's console logger" : "batched (shipped)")}, {Threads} threads", $"**{perLine:0.0} µs** CPU per line", $"{Lines:N0} lines into a pipe");
            report.Figure($"log_line_{variant}_us", Math.Round(perLine, 2));
        }
    }

    /// <summary>The child: logs <see cref="Lines"/> job lines and prints its CPU time on standard error.</summary>
    public static async Task<int> ChildAsync(string variant)
    {
        var builder = WebApplication.CreateBuilder();
        builder.AddConsoleLogDefaults();
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        if (variant == "dotnet")
        {
            foreach (var batched in builder.Services.Where(d => d.ImplementationType == typeof(BatchedConsoleLoggerProvider)).ToList())
            {
                builder.Services.Remove(batched);
            }

            builder.Services.AddSingleton<ILoggerProvider, ConsoleLoggerProvider>();
        }

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansWorker.Jobs");
        var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < Lines / Threads; i++)
            {
                var id = string.Create(CultureInfo.InvariantCulture, $"01a2252224c07b61883897c3{t:x4}{i:x4}");
                using (logger.BeginScope(new LineScope(id)))
                {
                    Completed(logger, id, "noop", 1, 0.0012);
                }
            }
        }, TaskCreationOptions.LongRunning)));

        // Disposing the providers writes out what is queued: the CPU of writing every line counts.
        await app.DisposeAsync();
        process.Refresh();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cpu_us {(process.TotalProcessorTime - before).TotalMicroseconds:0}"));
        return 0;
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Job {JobId} of type {JobType} completed: attempt {Attempt} succeeded in {Milliseconds} ms")]
    private static partial void Completed(ILogger logger, string jobId, string jobType, int attempt, double milliseconds);

    /// <summary>The attempt's scope as the worker writes it (<c>JobLogScope</c>).</summary>
    private sealed class LineScope(string id) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?>[] _items =
            [new("JobId", id), new("JobType", "noop"), new("Attempt", 1), new("TraceId", "6711e33760ebba135b295764caf90d89"), new("SpanId", null)];

        public int Count => _items.Length;

        public KeyValuePair<string, object?> this[int index] => _items[index];

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_items).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _items.GetEnumerator();

        public override string ToString() => $"JobId:{_items[0].Value} JobType:noop Attempt:1 TraceId:{_items[3].Value} SpanId:";
    }
}
