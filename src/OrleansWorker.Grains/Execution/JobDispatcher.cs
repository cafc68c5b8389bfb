using Microsoft.Extensions.Logging;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// The silo's pull loop and housekeeping: claims ready jobs up to free capacity and hands each to its
/// grain on this silo; promotes due jobs; renews leases; requeues the jobs of dead silos and expired leases;
/// purges finished jobs past retention; and on stop drains running attempts, then hands back the rest.
/// </summary>
internal sealed partial class JobDispatcher(
    JobEngine engine,
    IGrainFactory grains,
    IClusterMembershipService membership,
    ILogger<JobDispatcher> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopClaiming = new();
    private readonly CancellationTokenSource _stopAll = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly List<Task> _loops = [];

    public void Dispose()
    {
        _stopClaiming.Dispose();
        _stopAll.Dispose();
        _wake.Dispose();
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(JobDispatcher), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        engine.Store.JobsReady += OnJobsReady;
        JobLog.DispatcherStarted(logger, engine.Owner, engine.Options.MaxConcurrentJobs,
            engine.Options.Queues.Count == 0 ? "(all)" : string.Join(',', engine.Options.Queues), engine.Store.IsDurable ? "redis" : "in-memory");
        _loops.Add(Task.Run(ClaimLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(MaintenanceLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(WatchMembershipAsync, CancellationToken.None));
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        engine.Store.JobsReady -= OnJobsReady;
        await _stopClaiming.CancelAsync();
        var started = engine.Time.GetTimestamp();
        var running = engine.Tracker.InFlight;
        JobLog.Draining(logger, running, engine.Options.DrainTimeout);

        // Let running attempts finish (their outcomes are stored as usual) within the drain timeout less a reserve for
        // handing back the rest and for Orleans' own stop, or sooner if the host gives up.
        var drain = engine.Options.DrainTimeout;
        var reserve = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, drain.Ticks / 4));
        var deadline = engine.Time.GetUtcNow() + drain - reserve;
        while (engine.Tracker.Busy > 0 && engine.Time.GetUtcNow() < deadline && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                await engine.Tracker.WaitForChangeAsync(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        // Whatever still runs is cut short and handed back without using up an attempt.
        var remaining = engine.Tracker.Snapshot();
        foreach (var attempt in remaining)
        {
            attempt.Abandon();
        }

        var requeued = 0;
        try
        {
            requeued = await engine.Store.RequeueOwnerAsync(engine.Owner, engine.Time.GetUtcNow(), "The silo shut down before the attempt finished.", countAttempt: false)
                .WaitAsync(reserve / 2, engine.Time, CancellationToken.None);
        }
        catch (Exception ex)
        {
            JobLog.HandBackFailed(logger, ex);
        }

        await _stopAll.CancelAsync();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(reserve / 4, engine.Time, CancellationToken.None);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // The loops only wait on the store; a store that hangs must not hold the silo.
        }

        JobLog.Drained(logger, engine.Time.GetElapsedTime(started).TotalMilliseconds, remaining.Count, requeued);
    }

    private void OnJobsReady(string? queue) => Wake();

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already awake.
            }
        }
    }

    private async Task ClaimLoopAsync()
    {
        var token = _stopClaiming.Token;
        var options = engine.Options;
        var queues = options.Queues.ToList();
        var failureDelay = TimeSpan.FromMilliseconds(250);
        while (!token.IsCancellationRequested)
        {
            try
            {
                var free = options.MaxConcurrentJobs - engine.Tracker.Busy;
                if (free <= 0)
                {
                    await engine.Tracker.WaitForChangeAsync(options.PollInterval, token);
                    continue;
                }

                var now = engine.Time.GetUtcNow();
                var claimed = await engine.Store.ClaimAsync(engine.Owner, Math.Min(free, options.WriteBatchSize), queues, now, now + options.LeaseDuration);
                failureDelay = TimeSpan.FromMilliseconds(250);
                if (claimed.Count == 0)
                {
                    await _wake.WaitAsync(options.PollInterval, token);
                    continue;
                }

                engine.Tracker.AddPending(claimed.Count);
                foreach (var attempt in claimed)
                {
                    _ = HandOffAsync(attempt);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                JobLog.ClaimFailed(logger, ex, failureDelay);
                try
                {
                    await Task.Delay(failureDelay, engine.Time, token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                failureDelay = TimeSpan.FromTicks(Math.Min(failureDelay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private async Task HandOffAsync(ClaimedAttempt attempt)
    {
        try
        {
            // Bounded by StartAsync's own response timeout (10 s): a call stuck on a directory partition of a silo
            // that died is released rather than holding the job until membership catches up.
            await grains.GetGrain<IJobGrain>(attempt.JobId).StartAsync(attempt);
        }
        catch (Exception ex)
        {
            // Not started: give the job back at once rather than waiting for its lease to expire.
            JobLog.HandOffFailed(logger, ex, attempt.JobId, attempt.Attempt);
            var now = engine.Time.GetUtcNow();
            try
            {
                await engine.CompleteAsync(new AttemptCompletion(attempt.JobId, attempt.Attempt, attempt.ClaimToken, attempt.Owner, AttemptOutcome.Interrupted, attempt.StartedAt, now, null,
                    new JobError("AttemptInterrupted", "The claimed attempt could not be handed to its grain."), now));
            }
            catch (Exception releaseError)
            {
                JobLog.MaintenanceFailed(logger, releaseError, "release");
            }
        }
        finally
        {
            engine.Tracker.RemovePending();
        }
    }

    private async Task MaintenanceLoopAsync()
    {
        var token = _stopAll.Token;
        var options = engine.Options;
        var renewEvery = options.LeaseDuration / 3;
        var nextRenew = engine.Time.GetUtcNow();
        var nextPurge = engine.Time.GetUtcNow() + TimeSpan.FromSeconds(10);
        var nextCount = engine.Time.GetUtcNow();
        while (!token.IsCancellationRequested)
        {
            var now = engine.Time.GetUtcNow();
            var sleep = options.PollInterval;
            sleep = await StepAsync("promote", async () =>
            {
                var (_, nextDue) = await engine.Store.PromoteDueAsync(now, 1000);
                return nextDue is { } due && due - now < sleep ? Max(due - now, TimeSpan.FromMilliseconds(5)) : sleep;
            }, sleep);

            if (now >= nextRenew)
            {
                nextRenew = now + renewEvery;
                await StepAsync("renew", async () =>
                {
                    var ids = engine.Tracker.RunningIds;
                    if (ids.Count > 0)
                    {
                        foreach (var cancelled in await engine.Store.RenewLeasesAsync(engine.Owner, ids.ToList(), now + options.LeaseDuration))
                        {
                            if (engine.Tracker.TryGet(cancelled, out var attempt))
                            {
                                attempt!.Cancel();
                            }
                        }
                    }

                    var expired = await engine.Store.RequeueExpiredAsync(now);
                    if (expired > 0)
                    {
                        JobLog.RequeuedExpired(logger, expired);
                    }

                    await RequeueDeadOwnersAsync(membership.CurrentSnapshot);
                    return TimeSpan.Zero;
                }, TimeSpan.Zero);
            }

            if (now >= nextCount)
            {
                nextCount = now + TimeSpan.FromSeconds(5);
                await StepAsync("count", async () =>
                {
                    var counts = await engine.Store.CountByStateAsync();
                    engine.Instruments.SetQueued(counts.TryGetValue(JobState.Queued, out var queued) ? queued : 0);
                    return TimeSpan.Zero;
                }, TimeSpan.Zero);
            }

            if (now >= nextPurge)
            {
                nextPurge = now + TimeSpan.FromMinutes(1);
                await StepAsync("purge", async () =>
                {
                    var purged = await engine.Store.PurgeAsync(now, new RetentionPolicy(options.SucceededRetention, options.CancelledRetention, options.DeadLetteredRetention), 5000);
                    if (purged > 0)
                    {
                        JobLog.Purged(logger, purged);
                    }

                    return TimeSpan.Zero;
                }, TimeSpan.Zero);
            }

            try
            {
                await Task.Delay(sleep, engine.Time, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<TimeSpan> StepAsync(string step, Func<Task<TimeSpan>> action, TimeSpan fallback)
    {
        try
        {
            return await action();
        }
        catch (Exception ex)
        {
            JobLog.MaintenanceFailed(logger, ex, step);
            return fallback;
        }
    }

    private async Task WatchMembershipAsync()
    {
        var token = _stopAll.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(token))
                {
                    await RequeueDeadOwnersAsync(snapshot);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                JobLog.MaintenanceFailed(logger, ex, "membership");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), engine.Time, token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Requeues the jobs of every owner that membership has declared dead. Idempotent: every silo may do it.</summary>
    private async Task RequeueDeadOwnersAsync(ClusterMembershipSnapshot snapshot)
    {
        var dead = snapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Dead)
            .Select(m => m.SiloAddress.ToParsableString())
            .ToHashSet(StringComparer.Ordinal);
        if (dead.Count == 0)
        {
            return;
        }

        foreach (var owner in await engine.Store.GetOwnersAsync())
        {
            if (dead.Contains(owner) && owner != engine.Owner)
            {
                var count = await engine.Store.RequeueOwnerAsync(owner, engine.Time.GetUtcNow(), $"The silo {owner} running the attempt died.", countAttempt: true);
                JobLog.RequeuedDeadSilo(logger, owner, count);
            }
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
