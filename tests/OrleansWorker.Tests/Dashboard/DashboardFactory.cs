using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansWorker.Hosting;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Dashboard;

/// <summary>
/// The shipped worker host (its Program: embedded store, job API, both dashboards) with settings of a test's choosing,
/// the test handler <c>flaky</c> added, and its log captured.
/// </summary>
public class DashboardHostFactory : WebApplicationFactory<Program>
{
    public const string Key = "dashboard-test-key";

    private readonly Dictionary<string, string?> _settings;
    private readonly string? _pathBase;

    public DashboardHostFactory(Dictionary<string, string?>? settings = null, string? pathBase = null)
    {
        _settings = settings ?? [];
        _pathBase = pathBase;
    }

    public LogCapture Log { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Orleans:Endpoints:SiloPort", RedisServer.FreePort().ToString());
        builder.UseSetting("Orleans:Endpoints:GatewayPort", RedisServer.FreePort().ToString());
        builder.UseSetting("Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1");
        builder.UseSetting("Worker:Embedded:DataDirectory", Path.Combine(Path.GetTempPath(), "ow-data-" + Guid.NewGuid().ToString("N")));
        foreach (var (k, v) in _settings)
        {
            builder.UseSetting(k, v);
        }

        builder.ConfigureLogging(l => l.AddProvider(Log));
        builder.ConfigureTestServices(services =>
        {
            var worker = services.Select(d => d.ImplementationInstance).OfType<OrleansWorkerBuilder>().Single();
            worker.AddJob<FlakyHandler>("flaky");
            worker.AddJob<StepsHandler>("steps");
            if (_pathBase is not null)
            {
                services.AddSingleton<IStartupFilter>(new PathBaseStartupFilter(_pathBase));
            }
        });
    }
}

/// <summary>
/// The worker on a real TCP port on 127.0.0.1 (Kestrel), for a browser; the API key is set. With <c>pathBase</c>, the app
/// is served under it (<c>UsePathBase</c> ahead of the host's pipeline), as behind a proxy that maps <c>/worker</c> to it.
/// </summary>
public sealed class KestrelDashboardFactory : DashboardHostFactory
{
    public KestrelDashboardFactory(string? pathBase = null, bool readOnly = false)
        : this(RedisServer.FreePort(), pathBase, readOnly)
    {
    }

    private KestrelDashboardFactory(int port, string? pathBase, bool readOnly)
        : base(new()
        {
            ["Worker:ApiKey"] = Key,
            ["urls"] = $"http://127.0.0.1:{port}",
            ["Worker:Dashboard:TraceUrlTemplate"] = "http://grafana.test/explore?trace={traceId}",
            ["Worker:Dashboard:ReadOnly"] = readOnly ? "true" : "false",
            ["Worker:MaxConcurrentJobs"] = "8",
        }, pathBase)
    {
        Port = port;
        PathBase = pathBase ?? "";
        UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        StartServer();
    }

    public int Port { get; }

    public string PathBase { get; }

    /// <summary>The app's root as a browser sees it (with the path base), ending in '/'.</summary>
    public Uri BaseUri => new($"http://127.0.0.1:{Port}{PathBase}/");

    /// <summary>A client of the job API with the key.</summary>
    public HttpClient Api()
    {
        var http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("X-Api-Key", Key);
        return http;
    }
}

/// <summary>Runs <c>UsePathBase</c> before the host's own pipeline.</summary>
internal sealed class PathBaseStartupFilter(string pathBase) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UsePathBase(pathBase);
        next(app);
    };
}

/// <summary><c>flaky</c>: fails while its payload's key is marked broken (<c>{"key": "…"}</c>), as a job whose cause gets fixed.</summary>
public sealed class FlakyHandler : IJobHandler<FlakyHandler.Args>
{
    private static readonly ConcurrentDictionary<string, bool> Broken = new();

    public static void Break(string key) => Broken[key] = true;

    public static void Fix(string key) => Broken.TryRemove(key, out _);

    public Task ExecuteAsync(Args payload, JobContext context, CancellationToken cancellationToken) =>
        Broken.ContainsKey(payload.Key) ? throw new InvalidOperationException($"flaky: '{payload.Key}' is broken.") : Task.CompletedTask;

    public sealed record Args(string Key);
}

/// <summary>
/// <c>steps</c>: reports 40 % "first half", waits until the test calls <see cref="Advance"/>, reports 80 % "second half",
/// then runs until cancelled.
/// </summary>
public sealed class StepsHandler : IJobHandler
{
    private static readonly TaskCompletionSource Advanced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static void Advance() => Advanced.TrySetResult();

    public async Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
    {
        await context.ReportProgressAsync(40, "first half", cancellationToken);
        await Advanced.Task.WaitAsync(cancellationToken);
        await context.ReportProgressAsync(80, "second half", cancellationToken);
        await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
        return null;
    }
}

/// <summary>Every log line of the host, for assertions on what it says at start.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
    }
}
