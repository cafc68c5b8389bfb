using Microsoft.Extensions.Options;
using OrleansWorker.Hosting;

namespace OrleansWorker.Silo;

/// <summary>
/// Bounds a stop to <c>Worker:DrainTimeout</c>. The dispatcher drains and hands back its jobs within that budget,
/// but Orleans' own stop stages can wait far longer on an unreachable membership store (seen here with Redis down);
/// a process told to stop must still go, so past the budget this ends it. Nothing is lost by that: the jobs are
/// handed back already, or their leases expire and another silo runs them.
/// </summary>
internal sealed partial class ShutdownWatchdog(IHostApplicationLifetime lifetime, IOptions<WorkerOptions> options, TimeProvider time, ILogger<ShutdownWatchdog> logger) : IHostedService, IDisposable
{
    private ITimer? _timer;
    private CancellationTokenRegistration _registration;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registration = lifetime.ApplicationStopping.Register(() =>
            _timer = time.CreateTimer(_ => Expire(), null, options.Value.DrainTimeout, Timeout.InfiniteTimeSpan));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _registration.Dispose();
        _timer?.Dispose();
    }

    private void Expire()
    {
        ShutdownOverrun(logger, options.Value.DrainTimeout);

        // Environment.Exit would wait for the host's own ProcessExit handler, which waits for the stuck stop.
        Console.Error.WriteLine($"Shutdown exceeded Worker:DrainTimeout ({options.Value.DrainTimeout}); exiting now.");
        Console.Error.Flush();
        System.Diagnostics.Process.GetCurrentProcess().Kill();
    }

    [LoggerMessage(2000, LogLevel.Critical, "Shutdown exceeded the drain timeout {DrainTimeout}; ending the process")]
    private static partial void ShutdownOverrun(ILogger logger, TimeSpan drainTimeout);
}
