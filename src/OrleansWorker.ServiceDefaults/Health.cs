using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace OrleansWorker.ServiceDefaults;

/// <summary>The local silo, as the worker host reports it in <c>/health</c>; absent in a client-only process.</summary>
public interface ILocalSiloStatus
{
    /// <summary>The silo's address.</summary>
    string Address { get; }

    /// <summary>The silo's membership status (Active, ShuttingDown, …).</summary>
    string Status { get; }

    /// <summary>Whether the silo takes work.</summary>
    bool IsActive { get; }
}

/// <summary>The answer of <c>GET /health</c>.</summary>
public sealed record HealthReportBody(string Status, SiloBody? Silo, ClusterBody Cluster, IReadOnlyDictionary<string, CheckBody> Checks);

/// <summary>One silo in a health report.</summary>
public sealed record SiloBody(string Address, string Status);

/// <summary>The cluster as this process sees it.</summary>
public sealed record ClusterBody(int ActiveSilos, IReadOnlyList<SiloBody> Silos);

/// <summary>One dependency check.</summary>
public sealed record CheckBody(string Status, double DurationMs, string? Error = null);

/// <summary>A dependency the host checks in <c>/health</c> (throws, saying why, when unhealthy).</summary>
public interface IHealthProbe
{
    /// <summary>The name of the check in the report.</summary>
    string Name { get; }

    Task CheckAsync(CancellationToken cancellationToken);
}

/// <summary>Computes the health report: Redis (when configured), the host's probes and the Orleans cluster, each within a deadline.</summary>
public sealed class HealthReporter(IServiceProvider services, IClusterClientAccessor cluster, IEnumerable<IHealthProbe> probes)
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(2);

    public async Task<HealthReportBody> ReportAsync(CancellationToken cancellationToken)
    {
        var checks = new Dictionary<string, CheckBody>();
        var redis = services.GetService<IConnectionMultiplexer>();
        var redisTask = redis is null ? null : CheckAsync(() => redis.GetDatabase().PingAsync(), cancellationToken);
        var probeTasks = probes.Select(p => (p.Name, Task: CheckAsync(() => p.CheckAsync(cancellationToken), cancellationToken))).ToList();
        IReadOnlyList<SiloBody> silos = [];
        var orleans = await CheckAsync(async () => silos = await cluster.GetSilosAsync(), cancellationToken);
        if (redisTask is not null)
        {
            checks["redis"] = await redisTask;
        }

        foreach (var (name, task) in probeTasks)
        {
            checks[name] = await task;
        }

        var local = services.GetService<ILocalSiloStatus>();
        if (orleans.Status == "healthy" && local is { IsActive: false })
        {
            orleans = orleans with { Status = "unhealthy", Error = $"This silo is {local.Status}." };
        }

        checks["orleans"] = orleans;
        var active = silos.Count(s => s.Status == "Active");
        if (orleans.Status == "healthy" && active == 0)
        {
            checks["orleans"] = orleans with { Status = "unhealthy", Error = "No active silo." };
        }

        var healthy = checks.Values.All(c => c.Status == "healthy");
        return new HealthReportBody(healthy ? "healthy" : "unhealthy", local is null ? null : new SiloBody(local.Address, local.Status), new ClusterBody(active, silos), checks);
    }

    private static async Task<CheckBody> CheckAsync(Func<Task> check, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await check().WaitAsync(CheckTimeout, cancellationToken);
            return new CheckBody("healthy", Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var message = ex is TimeoutException ? $"No answer within {CheckTimeout.TotalSeconds} s." : ex.Message;
            return new CheckBody("unhealthy", Stopwatch.GetElapsedTime(started).TotalMilliseconds, message);
        }
    }
}

/// <summary>Reads the cluster's silos through the management grain (works from a silo and from a client).</summary>
public interface IClusterClientAccessor
{
    /// <summary>Every silo the membership table knows and its status.</summary>
    Task<IReadOnlyList<SiloBody>> GetSilosAsync();
}

internal sealed class ManagementGrainClusterAccessor(IGrainFactory grains) : IClusterClientAccessor
{
    public async Task<IReadOnlyList<SiloBody>> GetSilosAsync()
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: false);
        return hosts.Where(h => h.Value != SiloStatus.Dead)
            .Select(h => new SiloBody(h.Key.ToParsableString(), h.Value.ToString()))
            .OrderBy(s => s.Address, StringComparer.Ordinal)
            .ToList();
    }
}

/// <summary>Maps <c>/health</c>, <c>/health/live</c>, <c>/health/ready</c>.</summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", async (HealthReporter reporter, CancellationToken ct) =>
        {
            var report = await reporter.ReportAsync(ct);
            return Results.Json(report, statusCode: report.Status == "healthy" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).WithTags("Operations").Produces<HealthReportBody>().Produces<HealthReportBody>(StatusCodes.Status503ServiceUnavailable);

        app.MapGet("/health/live", () => Results.Json(new { status = "alive" })).WithTags("Operations");

        app.MapGet("/health/ready", async (HealthReporter reporter, CancellationToken ct) =>
        {
            var report = await reporter.ReportAsync(ct);
            return Results.Json(new { status = report.Status == "healthy" ? "ready" : "not ready", checks = report.Checks },
                statusCode: report.Status == "healthy" ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).WithTags("Operations");
        return app;
    }
}
