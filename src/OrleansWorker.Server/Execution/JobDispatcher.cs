using Microsoft.Extensions.Logging;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// The silo's pull loop and housekeeping: claims ready jobs up to free capacity and hands each to its attempt grain
/// on this silo; keeps this silo's lease; recovers the jobs of owners that died or lost their lease; promotes due
/// jobs; purges finished ones past retention; and on stop drains running attempts, then hands back the rest.
/// </summary>
/// <remarks>
/// Leases are per silo, not per job: a silo renews one lease per shard every <see cref="RenewInterval"/>; a lease not
/// renewed for <c>Worker:LeaseDuration</c> lets any other silo revoke the owner and requeue its jobs, whatever Orleans
/// membership thinks of that silo. A silo that cannot renew for a lease period abandons its own attempts (they are
/// someone else's now), and one that finds itself revoked gives back the interruptions it caused and carries on under
/// a new owner name. A silo judges other silos' leases only after it has itself been able to renew for a whole lease
/// period, so a store outage that every silo saw never makes them revoke each other.
/// </remarks>
internal sealed partial class JobDispatcher(
    JobEngine engine,
    IGrainFactory grains,
    IClusterMembershipService membership,
    RecurringJobs schedules,
    IEnumerable<Hosting.CodeSchedule> codeSchedules,
    ILogger<JobDispatcher> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopClaiming = new();
    private readonly CancellationTokenSource _stopAll = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly SemaphoreSlim _recover = new(1, 1);
    private string? _leasedOwner; // the owner name this silo last renewed: it claims only under that one
    private readonly List<Task> _loops = [];
    private readonly List<(string JobId, long Token, Deadline Until)> _refunds = [];
    private Renewal _lastRenewal = null!; // read by the lease watchdog on another thread
    private Deadline? _revokeExpiredFrom; // set once this silo renews again: others' expired leases count after a lease period of that
    private volatile bool _leaseLost;
    private string? _retiring;
    private Deadline _nextReconcile = Deadline.In(engine.Time, TimeSpan.Zero);
    private List<string> _queues = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _rateWaitUntil = new(StringComparer.Ordinal);
    private long _grants;
    private AttemptGrainType? _attemptGrainType;
    private readonly PermitLedger _permits = new(engine.Store);
    private int _shardCursor;
    private readonly IdleTrim _idleTrim = new(engine.Options.IdleTrimDelay, engine.Time);

    private TimeSpan RenewInterval => engine.Options.LeaseDuration / 5;

    /// <summary>Whether the store holds a lease for this silo's current owner name (it claims and counts permits only then).</summary>
    private bool Leased => string.Equals(Volatile.Read(ref _leasedOwner), engine.Owner, StringComparison.Ordinal);

    /// <summary>How often every silo settles waiting jobs and checks open batches from the store (the fast path does it at once).</summary>
    private static readonly TimeSpan FollowUpSweepInterval = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How far this silo's clock may be from the store's before it warns: well within a lease (a silo whose clock is a
    /// lease ahead takes others' leases for expired) and within a tick of a per-second recurring job.
    /// </summary>
    private static readonly TimeSpan ClockTolerance = TimeSpan.FromSeconds(1);

    private bool _clockOff;
    private bool _clockDecided;

    /// <summary>Whether this silo holds a valid lease (false while it is cut off from the store for longer than a lease).</summary>
    public bool HasLease => !_leaseLost;

    public void Dispose()
    {
        _stopClaiming.Dispose();
        _stopAll.Dispose();
        _wake.Dispose();
        _recover.Dispose();
        _permits.Dispose();
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(JobDispatcher), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);

    private async Task OnStartAsync(CancellationToken cancellationToken)
    {
        var store = engine.Store;
        store.JobsReady += OnJobsReady;
        store.CancelRequested += OnCancelRequested;

        // The clock first, so that what this silo writes and compares from here on is on the store's time (see
        // StoreClock). Up to three readings: a failed or slow one decides nothing (the maintenance loop reads again).
        for (var reading = 0; reading < 3 && !_clockDecided; reading++)
        {
            await StepAsync("clock", CheckClockAsync);
        }
        var now = engine.Time.GetUtcNow();
        Volatile.Write(ref _lastRenewal, new Renewal(now, engine.Time.GetTimestamp()));
        if (store.Description.Exclusive)
        {
            // No other process can reach this store: every other owner is a previous run of this one that ended
            // without handing back (kill -9, a crash). Recover their jobs now rather than after a lease period.
            _revokeExpiredFrom = Deadline.In(engine.Time, TimeSpan.Zero);
            foreach (var other in (await store.OwnersAsync()).Where(o => o.Owner != engine.Owner))
            {
                await store.RevokeAsync(other, now, leaseEndedBy: null);
            }
        }

        store.SettingsChanged += OnSettingsChanged;
        await schedules.EnsureAsync(codeSchedules.Select(c => c.Definition));
        var known = await engine.RefreshQueueSettingsAsync();
        _queues = known.Keys.Order(StringComparer.Ordinal).ToList();
        JobLog.DispatcherStarted(logger, engine.Owner, engine.Options.MaxConcurrentJobs,
            engine.Options.Queues.Count == 0 ? "(all)" : string.Join(',', engine.Options.Queues), store.Description.Engine, store.Description.Location);
        _loops.Add(Task.Run(WarnAboutStoreSettingsAsync, CancellationToken.None));
        _loops.Add(Task.Run(ClaimLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(LeaseLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(LeaseWatchdogAsync, CancellationToken.None));
        _loops.Add(Task.Run(MaintenanceLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(FollowUpLoopAsync, CancellationToken.None));
        _loops.Add(Task.Run(WatchMembershipAsync, CancellationToken.None));
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        engine.Store.JobsReady -= OnJobsReady;
        engine.Store.SettingsChanged -= OnSettingsChanged;
        await _stopClaiming.CancelAsync();
        var started = engine.Time.GetTimestamp();
        JobLog.Draining(logger, engine.Tracker.InFlight, engine.Options.DrainTimeout);

        // Let running attempts finish (their outcomes are stored as usual) within the drain timeout less a reserve for
        // handing back the rest and for Orleans' own stop, or sooner if the host gives up.
        var drain = engine.Options.DrainTimeout;
        var reserve = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(5).Ticks, drain.Ticks / 4));
        await WaitIdleAsync(Deadline.In(engine.Time, drain - reserve), cancellationToken);

        // Whatever still runs is cut short; each attempt hands its job back itself (not counted as an attempt). No attempt
        // starts after this: a claim answered or handed off later stays with this owner and is handed back below.
        var remaining = engine.Tracker.Close();
        foreach (var attempt in remaining)
        {
            attempt.Abandon(AbandonReason.Shutdown);
        }

        await WaitIdleAsync(Deadline.In(engine.Time, reserve / 2), CancellationToken.None);

        // Then nothing may stay leased to this silo: retire its owner name and hand back any job still under it.
        var requeued = 0;
        try
        {
            requeued = await RetireAsync(engine.Owner, handBack: true).WaitAsync(reserve / 4, engine.Time, CancellationToken.None);
        }
        catch (Exception ex)
        {
            JobLog.HandBackFailed(logger, ex);
        }

        engine.Store.CancelRequested -= OnCancelRequested;
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

    private async Task WaitIdleAsync(Deadline deadline, CancellationToken cancellationToken)
    {
        while (engine.Tracker.Busy > 0 && !deadline.Passed && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                await engine.Tracker.WaitForChangeAsync(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Logs the store server's settings that can lose jobs, once at start; a store out of reach is skipped.</summary>
    private async Task WarnAboutStoreSettingsAsync()
    {
        try
        {
            foreach (var w in await engine.Store.SettingsWarningsAsync())
            {
                JobLog.StoreSettingRisky(logger, w.Where, w.Setting, w.Value, w.Risk);
            }
        }
        catch (Exception ex)
        {
            // Advice only: a server out of reach, or one that refuses INFO to this user, must not stop the silo.
            JobLog.MaintenanceFailed(logger, ex, "read the store's settings");
        }
    }

    private void OnJobsReady(string queue)
    {
        if (!_queues.Contains(queue, StringComparer.Ordinal))
        {
            _queues = [.. _queues, queue];
        }

        Wake();
    }

    private void OnSettingsChanged(string queue) => _ = RefreshSettingsAsync();

    private async Task RefreshSettingsAsync()
    {
        try
        {
            var before = engine.Queues.All;
            var all = await engine.Store.QueueSettingsAsync();
            foreach (var (queue, settings) in all)
            {
                // A queue that just got a concurrency limit: while it had none, no silo kept its count of permits, so put
                // this silo's running jobs of it there before the new limit is claimed against (each silo does; the upkeep
                // within 2 s).
                if (settings.MaxConcurrency is not null && before.GetValueOrDefault(queue)?.MaxConcurrency is null && Leased)
                {
                    await _permits.SetOwnAsync(queue, engine.Owner, () => engine.Tracker.CountOfQueue(queue));
                }
            }

            engine.Queues.Set(all);
            _queues = all.Keys.Order(StringComparer.Ordinal).ToList();
            foreach (var queue in _rateWaitUntil.Keys)
            {
                // A wait for the rate window to free up is for the limit it was refused under.
                if (before.GetValueOrDefault(queue)?.RateLimit != all.GetValueOrDefault(queue)?.RateLimit)
                {
                    _rateWaitUntil.TryRemove(queue, out _);
                }
            }

            Wake();
        }
        catch (Exception ex)
        {
            JobLog.MaintenanceFailed(logger, ex, "settings");
        }
    }

    /// <summary>A cancellation addressed to one attempt (<c>jobId@claimToken</c>) of this silo's owner name.</summary>
    private void OnCancelRequested(string owner, string attemptKey)
    {
        if (owner == engine.Owner && engine.Tracker.Running(attemptKey) is { } attempt)
        {
            attempt.Cancel();
        }
    }

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

    // ------------------------------------------------------------------ claiming

    private async Task ClaimLoopAsync()
    {
        var token = _stopClaiming.Token;
        var options = engine.Options;
        var failureDelay = TimeSpan.FromMilliseconds(250);
        while (!token.IsCancellationRequested)
        {
            try
            {
                // A slot is a running handler: one whose outcome is being written no longer holds it, so the store's round
                // trips do not idle the slots. What waits for its write is bounded apart (a write batch), so a slow store
                // cannot make this silo claim without end.
                var tracker = engine.Tracker;
                var free = Math.Min(options.MaxConcurrentJobs - tracker.Executing, options.MaxConcurrentJobs + options.WriteBatchSize - tracker.Busy);
                // Only under an owner name whose lease is in the store (after the first renewal, and after each move to a
                // new name): an owner that holds permits must hold a lease, or one killed between taking permits and its
                // renewal would hold them for good (the upkeep forgets the permits of names without a lease).
                if (free <= 0 || _leaseLost || _queues.Count == 0 || !Leased)
                {
                    await (free <= 0 ? tracker.WaitForChangeAsync(options.PollInterval, token) : _wake.WaitAsync(options.PollInterval, token));
                    continue;
                }

                var claimed = await ClaimOnceAsync(Math.Min(free, options.WriteBatchSize));
                failureDelay = TimeSpan.FromMilliseconds(250);
                if (claimed == 0)
                {
                    await _wake.WaitAsync(options.PollInterval, token);
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

    /// <summary>
    /// One claim: the queues in a weighted random order, paused ones and ones waiting out their rate window left out;
    /// each limited queue first takes concurrency permits and rate-window starts (cluster-wide, atomically) and may
    /// claim no more than it got; then the shards in turn until one yields jobs. Unused permits and starts go back.
    /// Returns how many jobs were claimed.
    /// </summary>
    private async Task<int> ClaimOnceAsync(int max)
    {
        var store = engine.Store;
        var now = engine.Time.GetUtcNow();
        var owner = engine.Owner;
        var settings = engine.Queues;
        var candidates = (engine.WeightedQueues.Count > 0 ? engine.WeightedQueues : _queues.Select(q => new WeightedQueue(q, 1)).ToList())
            .Where(q => !settings.Of(q.Queue).Paused && !(_rateWaitUntil.TryGetValue(q.Queue, out var until) && until > now))
            .ToList();
        if (candidates.Count == 0)
        {
            return 0;
        }

        var order = WeightedQueue.Shuffle(candidates, Random.Shared);
        var totalWeight = order.Sum(q => q.Weight);
        var grants = new Dictionary<string, Grant>(StringComparer.Ordinal);
        try
        {
            foreach (var queue in order)
            {
                var s = settings.Of(queue.Queue);
                if (s.MaxConcurrency is null && s.RateLimit is null)
                {
                    continue;
                }

                var grant = new Grant(max);
                grants[queue.Queue] = grant;
                if (s.MaxConcurrency is { } limit)
                {
                    grant.Permits = await _permits.AcquireAsync(queue.Queue, owner, grant.Allowed, limit);
                    if (grant.Permits < grant.Allowed)
                    {
                        engine.Instruments.LimitHit(queue.Queue, "concurrency");
                    }

                    grant.Allowed = grant.Permits;
                }

                if (s.RateLimit is { } rate && grant.Allowed > 0)
                {
                    grant.StartsName = $"{owner}:{Interlocked.Increment(ref _grants)}";
                    var (started, next) = await store.AcquireStartsAsync(queue.Queue, grant.StartsName, grant.Allowed, rate, now);
                    grant.Starts = started;
                    if (started < grant.Allowed)
                    {
                        engine.Instruments.LimitHit(queue.Queue, "rate");
                    }

                    if (started == 0)
                    {
                        // Until the oldest start leaves the window, or sooner: another silo may give back starts it took and
                        // did not use (a claim takes them before it knows how many jobs there are).
                        var until = DateTimeOffset.FromUnixTimeMilliseconds(next);
                        _rateWaitUntil[queue.Queue] = until < now + engine.Options.PollInterval ? until : now + engine.Options.PollInterval;
                    }

                    grant.Allowed = started;
                }
            }
        }
        catch
        {
            // What was taken before the failure goes back (the claim does not happen).
            await EndGrantsAsync(grants, [], owner);
            throw;
        }

        // First a share of the capacity by weight, then the leftovers; a limited queue once, within its grant.
        var plan = new List<(string Queue, int Max)>(order.Count * 2);
        foreach (var queue in order)
        {
            var share = Math.Max(1, (int)Math.Ceiling(max * (double)queue.Weight / totalWeight));
            plan.Add((queue.Queue, grants.TryGetValue(queue.Queue, out var grant) ? grant.Allowed : share));
        }

        foreach (var queue in order.Where(q => !grants.ContainsKey(q.Queue)))
        {
            plan.Add((queue.Queue, max));
        }

        plan.RemoveAll(p => p.Max <= 0);
        var claimedPerQueue = new Dictionary<string, int>(StringComparer.Ordinal);
        var total = 0;
        try
        {
            if (plan.Count == 0)
            {
                return 0;
            }

            for (var tried = 0; tried < store.Shards; tried++)
            {
                var shard = (Interlocked.Increment(ref _shardCursor) & int.MaxValue) % store.Shards;
                var outcome = await store.ClaimAsync(shard, owner, max, plan, now, now + engine.Options.LeaseDuration, engine.Tracker.TakeFinished(shard));
                if (outcome.Revoked)
                {
                    await OnRevokedAsync(owner);
                    return 0;
                }

                if (outcome.Attempts.Count > 0)
                {
                    // A claim returns in milliseconds, unless the client held it back while reconnecting (seen: 4.9 s after a
                    // Redis restart): it then ran in the store long after `now`, maybe after the job's previous attempt ended.
                    // Its attempts start when the claim is in hand, not when it was sent.
                    var returned = engine.Time.GetUtcNow();
                    var late = returned - now > TimeSpan.FromSeconds(1);
                    var attempts = outcome.Attempts
                        .Select(a => grants.TryGetValue(a.Queue, out var g) && g.Permits > 0 ? a with { HoldsPermit = true } : a)
                        .Select(a => late ? a with { StartedAt = returned } : a)
                        .ToList();
                    foreach (var a in attempts)
                    {
                        claimedPerQueue[a.Queue] = claimedPerQueue.GetValueOrDefault(a.Queue) + 1;
                    }

                    engine.Tracker.AddPending(attempts);
                    foreach (var attempt in attempts)
                    {
                        _ = HandOffAsync(attempt);
                    }

                    total = attempts.Count;
                    return total;
                }
            }

            return 0;
        }
        finally
        {
            await EndGrantsAsync(grants, claimedPerQueue, owner);
        }
    }

    /// <summary>
    /// Gives back what a claim's grants did not use, every queue's even when one's store call fails (the claim's own
    /// count of permits must end, or the upkeep would go on counting them; a lost release is what the upkeep corrects).
    /// </summary>
    private async Task EndGrantsAsync(Dictionary<string, Grant> grants, Dictionary<string, int> claimedPerQueue, string owner)
    {
        foreach (var (queue, grant) in grants)
        {
            var used = claimedPerQueue.GetValueOrDefault(queue);
            try
            {
                await _permits.EndClaimAsync(queue, owner, grant.Permits, used);
                if (grant.StartsName is { } name)
                {
                    await engine.Store.RefundStartsAsync(queue, name, used + 1, grant.Starts);
                }
            }
            catch (Exception ex) when (StoreFailures.IsUnavailable(ex))
            {
                JobLog.MaintenanceFailed(logger, ex, "give back permits");
            }
        }
    }

    /// <summary>What a limited queue let one claim take: permits held, rate-window starts recorded, and so how many jobs.</summary>
    private sealed class Grant(int allowed)
    {
        public int Allowed { get; set; } = allowed;

        public int Permits { get; set; }

        public string? StartsName { get; set; }

        public int Starts { get; set; }
    }

    /// <summary>
    /// The attempt grain of <paramref name="key"/>. <c>GetGrain&lt;IJobGrain&gt;(key)</c> would resolve the interface's
    /// grain type by reflection on every call (Orleans does not cache it): 2 % of the process' CPU under load. The grain
    /// type and interface are resolved once, from a first reference, and every attempt's reference is made from its id.
    /// </summary>
    private IJobGrain AttemptGrain(string key)
    {
        var type = _attemptGrainType ??= new AttemptGrainType((GrainReference)grains.GetGrain<IJobGrain>(key));
        return (IJobGrain)grains.GetGrain(GrainId.Create(type.Grain, IdSpan.Create(key)), type.Interface);
    }

    /// <summary>The grain type and interface of attempt grains (a class: assigned whole, safely from any thread).</summary>
    private sealed class AttemptGrainType(GrainReference prototype)
    {
        public GrainType Grain { get; } = prototype.GrainId.Type;

        public GrainInterfaceType Interface { get; } = prototype.InterfaceType;
    }

    private async Task HandOffAsync(ClaimedAttempt attempt)
    {
        try
        {
            // A grain placed on this silo (LocalSiloPlacement): a local call that cannot wait on any other silo.
            if (!await AttemptGrain(attempt.GrainKey).StartAsync(attempt))
            {
                // Refused: the silo is stopping, or the claim's owner name is no longer its own.
                await ReleaseUnstartedAsync(attempt);
            }
        }
        catch (Exception ex)
        {
            if (engine.Tracker.Running(attempt.GrainKey) is not null)
            {
                // The grain admitted this very claim (the key holds its token) and runs it: the call failed because the
                // handler's synchronous part outlasted the call's timeout (the attempt runs inside the call until it first
                // awaits). Releasing the job now would let another claim run it while this attempt still does.
                JobLog.HandOffSlow(logger, ex, attempt.JobId, attempt.Attempt);
                return;
            }

            JobLog.HandOffFailed(logger, ex, attempt.JobId, attempt.Attempt);
            await ReleaseUnstartedAsync(attempt);
        }
        finally
        {
            engine.Tracker.RemovePending(attempt);
        }
    }

    /// <summary>
    /// Gives back the job of an attempt that did not start, at once rather than when its lease expires, and not counted
    /// as an attempt or an interruption (a no-op if the job moved on meanwhile: the release carries the claim's token).
    /// </summary>
    private async Task ReleaseUnstartedAsync(ClaimedAttempt attempt)
    {
        try
        {
            // A cancellation requested since the claim wins (Completion), or the job would stay Running.
            var release = JobRules.AttemptEnded(attempt, new AttemptEnd(AttemptOutcome.Interrupted), engine.Time.GetUtcNow(), engine.Retry, 0);
            await Completion.ApplyAsync(release, engine.ApplyAsync);
            engine.Tracker.Finished(engine.Store.Keys.ShardOf(attempt.JobId), attempt.JobId);
            if (attempt.HoldsPermit)
            {
                await engine.Store.ReleasePermitsAsync(attempt.Queue, attempt.Owner, 1);
            }
        }
        catch (Exception releaseError)
        {
            JobLog.MaintenanceFailed(logger, releaseError, "release");
        }
    }

    // ------------------------------------------------------------------ lease

    private async Task LeaseLoopAsync()
    {
        var token = _stopAll.Token;
        while (!token.IsCancellationRequested)
        {
            var at = engine.Time.GetTimestamp();
            var now = engine.Time.GetUtcNow();
            await RenewAsync(now, at);
            await StepAsync("recovery", () => RecoverAsync(now));
            try
            {
                await Task.Delay(RenewInterval, engine.Time, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>Renews this silo's lease to a lease period from <paramref name="now"/>, read at the silo's timestamp <paramref name="at"/>.</summary>
    private async Task RenewAsync(DateTimeOffset now, long at)
    {
        var store = engine.Store;
        try
        {
            if (_retiring is { } old)
            {
                // This silo lost its lease while cut off; now that the store answers, hand back what that owner held.
                await RetireAsync(old, handBack: true);
                _retiring = null;
            }

            var finished = new Dictionary<int, List<string>>();
            for (var s = 0; s < store.Shards; s++)
            {
                var ids = engine.Tracker.TakeFinished(s);
                if (ids.Count > 0)
                {
                    finished[s] = ids;
                }
            }

            var owner = engine.Owner;
            var revoked = await store.RenewAsync(owner, now + engine.Options.LeaseDuration, finished);
            Volatile.Write(ref _lastRenewal, new Renewal(now, at));
            if (revoked.Count == 0 && Interlocked.Exchange(ref _leasedOwner, owner) != owner)
            {
                Wake(); // the claim loop waits for its owner name's lease
            }

            _revokeExpiredFrom ??= Deadline.In(engine.Time, engine.Options.LeaseDuration);
            if (_leaseLost)
            {
                _leaseLost = false;
                JobLog.LeaseRegained(logger, engine.Owner);

                // However long the cut lasted, the others get their usual time from now on to record what they took over.
                lock (_refunds)
                {
                    var until = Deadline.In(engine.Time, engine.Options.LeaseDuration * 6);
                    for (var i = 0; i < _refunds.Count; i++)
                    {
                        _refunds[i] = _refunds[i] with { Until = _refunds[i].Until.Left > until.Left ? _refunds[i].Until : until };
                    }
                }
            }

            if (revoked.Count > 0)
            {
                await OnRevokedAsync(owner);
            }

            foreach (var id in await store.TakeCancellationsAsync(engine.Owner))
            {
                OnCancelRequested(engine.Owner, id);
            }

            await RefundAsync();
            await store.ReportSiloAsync(new SiloStats
            {
                Address = engine.Silo,
                Running = engine.Tracker.InFlight,
                Capacity = engine.Options.MaxConcurrentJobs,
                Queues = [.. engine.Options.Queues],
                Succeeded = engine.Instruments.Succeeded,
                Failed = engine.Instruments.Failed,
                At = now,
                StoreLayout = JobStore.LayoutVersion,
            });
            if (!store.Description.Exclusive)
            {
                var layout = JobStore.ClusterLayout(ClusterSilos(), await store.SilosAsync(now - TimeSpan.FromMinutes(1)));
                if (layout != store.Layout)
                {
                    store.Layout = layout;
                    JobLog.StoreLayout(logger, layout);
                }
            }

            if (_nextReconcile.Passed)
            {
                _nextReconcile = Deadline.In(engine.Time, engine.Options.LeaseDuration);
                await ReconcileAsync(owner, now);
            }
        }
        catch (Exception ex)
        {
            _revokeExpiredFrom = null;
            JobLog.MaintenanceFailed(logger, ex, "renew");
            CheckLeaseLost(now);
        }
    }

    /// <summary>
    /// Abandons this silo's attempts once its lease has run out without renewal: its jobs are (or will be) run elsewhere.
    /// Called after a failed renewal and by <see cref="LeaseWatchdogAsync"/>.
    /// </summary>
    private void CheckLeaseLost(DateTimeOffset now)
    {
        var owner = engine.Owner;
        var since = Volatile.Read(ref _lastRenewal).Since(now, engine.Time);
        if (!_leaseLost && since >= engine.Options.LeaseDuration && engine.TryNextEpoch(owner, out _))
        {
            // Nobody has heard from this silo for a lease period: its jobs are (or will be) run elsewhere.
            _leaseLost = true;
            _retiring = owner;
            var attempts = engine.Tracker.Snapshot();
            foreach (var attempt in attempts)
            {
                attempt.Abandon(AbandonReason.LeaseLost);
            }

            JobLog.LeaseLost(logger, owner, attempts.Count, since);
            engine.Instruments.LeaseEvent("lost", attempts.Count);
        }
    }

    /// <summary>
    /// Checks the lease on its own clock: a renewal against a store that does not answer waits for the client's timeouts
    /// (seconds), so the lease loop alone noticed a lost lease 5-10 s after the others could revoke it and run its jobs again.
    /// </summary>
    private async Task LeaseWatchdogAsync()
    {
        var token = _stopAll.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(RenewInterval / 4, engine.Time, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            CheckLeaseLost(engine.Time.GetUtcNow());
        }
    }

    /// <summary>Every silo of the cluster that is not dead (joining, active or shutting down), by address.</summary>
    private List<string> ClusterSilos() =>
        membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status is not (SiloStatus.Dead or SiloStatus.None))
            .Select(m => m.SiloAddress.ToParsableString())
            .ToList();

    /// <summary>
    /// Hands back jobs the store says this owner runs but this silo does not hold — a claim whose answer was lost
    /// (the call timed out after the store applied it). Their lease is renewed like any other, so nobody else would
    /// ever recover them. Claims younger than the grace are left alone: their answer may still be on its way.
    /// </summary>
    private async Task ReconcileAsync(string owner, DateTimeOffset now)
    {
        var grace = TimeSpan.FromSeconds(30);
        var orphans = new List<JobSnapshot>();
        for (var s = 0; s < engine.Store.Shards; s++)
        {
            foreach (var job in await engine.Store.OwnerJobsAsync(new ShardOwner(s, owner)))
            {
                if (now - job.Since > grace && !engine.Tracker.Holds($"{job.Id}@{job.Token}"))
                {
                    orphans.Add(job);
                }
            }
        }

        if (orphans.Count > 0)
        {
            var applied = await engine.ApplyAllAsync(orphans.Select(j => JobRules.HandedBack(j, now)).ToList());
            JobLog.Orphans(logger, applied.Count(a => a == ApplyOutcome.Applied), owner);
        }
    }

    /// <summary>This silo learnt that another revoked it: it was cut off, not dead. Abandon, give interruptions back, carry on under a new name.</summary>
    private async Task OnRevokedAsync(string owner)
    {
        if (!engine.TryNextEpoch(owner, out var next))
        {
            return;
        }

        var attempts = engine.Tracker.Snapshot().Where(a => a.Claim.Owner == owner).ToList();
        foreach (var attempt in attempts)
        {
            attempt.Abandon(AbandonReason.LeaseLost);
        }

        var until = Deadline.In(engine.Time, engine.Options.LeaseDuration * 6);
        lock (_refunds)
        {
            _refunds.AddRange(attempts.Select(a => (a.Claim.JobId, a.Claim.ClaimToken, until)));
        }

        JobLog.Revoked(logger, owner, attempts.Count, next);
        engine.Instruments.LeaseEvent("revoked", attempts.Count);
        await RefundAsync();
    }

    /// <summary>
    /// An attempt of this silo ended without its outcome stored (the store did not answer for a lease period), or with it
    /// refused as stale (another silo took the job over): another silo may have revoked this one and recorded the job as
    /// interrupted. This silo is alive, so that interruption was not the job's doing: give it back once the store answers
    /// (a no-op unless the job's last interruption is this claim).
    /// </summary>
    public void RefundIfInterrupted(ClaimedAttempt claim)
    {
        lock (_refunds)
        {
            _refunds.Add((claim.JobId, claim.ClaimToken, Deadline.In(engine.Time, engine.Options.LeaseDuration * 6)));
        }
    }

    /// <summary>Gives back the interruptions this silo's revocation cost its jobs (retried until the recovering silo has recorded them).</summary>
    private async Task RefundAsync()
    {
        List<(string JobId, long Token, Deadline Until)> pending;
        lock (_refunds)
        {
            _refunds.RemoveAll(r => r.Until.Passed);
            pending = [.. _refunds];
        }

        if (pending.Count == 0)
        {
            return;
        }

        // Read before the refund: a job no longer running under the claim when read had its interruption recorded (or
        // never will), so the refund after the read sees it, and it can be dropped. Read after, a recovery landing
        // between the two calls would have dropped a refund that never applied.
        var jobs = await engine.Store.LoadAsync(pending.Select(p => p.JobId).ToList());
        var refunded = await engine.Store.RefundInterruptionsAsync(pending.Select(p => (p.JobId, p.Token)).ToList());
        if (refunded > 0)
        {
            JobLog.Refunded(logger, refunded);
            engine.Instruments.InterruptionsRefunded(refunded);
        }

        // A refund applies once: drop those whose interruption is recorded and given back (or that never will be).
        lock (_refunds)
        {
            for (var i = 0; i < pending.Count; i++)
            {
                if (jobs[i] is not { } job || job.State != JobState.Running || job.Token != pending[i].Token)
                {
                    _refunds.Remove(pending[i]);
                }
            }
        }
    }

    // ------------------------------------------------------------------ recovery

    /// <summary>
    /// Revokes owners that membership declared dead and (once this silo has renewed for a whole lease period) owners
    /// whose lease ran out; then requeues the jobs of every revoked owner. Idempotent: every silo may do it.
    /// </summary>
    private async Task RecoverAsync(DateTimeOffset now)
    {
        if (!await _recover.WaitAsync(0))
        {
            return;
        }

        try
        {
            var store = engine.Store;
            var dead = membership.CurrentSnapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Dead)
                .Select(m => m.SiloAddress.ToParsableString())
                .ToHashSet(StringComparer.Ordinal);
            if (dead.Count > 0)
            {
                foreach (var owner in await store.OwnersAsync())
                {
                    if (JobStore.OwnerSilo(owner.Owner) is { } silo && dead.Contains(silo) && await store.RevokeAsync(owner, now, leaseEndedBy: null))
                    {
                        JobLog.RevokedDeadSilo(logger, owner.Owner);
                        engine.Instruments.OwnerRevoked("dead");
                    }
                }
            }

            if (_revokeExpiredFrom is { Passed: true })
            {
                foreach (var (owner, leaseEnd) in await store.ExpiredOwnersAsync(now))
                {
                    if (owner.Owner != engine.Owner && await store.RevokeAsync(owner, now, leaseEndedBy: now))
                    {
                        JobLog.RevokedExpired(logger, owner.Owner, now - leaseEnd);
                        engine.Instruments.OwnerRevoked("lease_expired");
                    }
                }
            }

            foreach (var owner in await store.RevokedWithJobsAsync())
            {
                foreach (var (queue, _) in engine.Queues.All.Where(q => q.Value.MaxConcurrency is not null))
                {
                    await store.SetPermitsAsync(queue, owner.Owner, 0);
                }

                var jobs = await store.OwnerJobsAsync(owner);
                var reason = $"The silo running the attempt ({JobStore.OwnerSilo(owner.Owner)}) died or lost its lease.";
                var applied = jobs.Count == 0 ? [] : await engine.ApplyAllAsync(jobs.Select(j => JobRules.Interrupted(j, reason, now)).ToList());
                await store.ForgetOwnerAsync(owner);
                if (jobs.Count > 0)
                {
                    JobLog.Requeued(logger, owner.Owner, applied.Count(a => a == ApplyOutcome.Applied));
                }
            }
        }
        finally
        {
            _recover.Release();
        }
    }

    /// <summary>Revokes one of this silo's own owner names and hands back what it still holds (not counted against the jobs).</summary>
    private async Task<int> RetireAsync(string owner, bool handBack)
    {
        var store = engine.Store;
        var now = engine.Time.GetUtcNow();
        var requeued = 0;
        for (var s = 0; s < store.Shards; s++)
        {
            var shardOwner = new ShardOwner(s, owner);
            await store.RevokeAsync(shardOwner, now, leaseEndedBy: null);
            var jobs = await store.OwnerJobsAsync(shardOwner);
            if (jobs.Count > 0 && handBack)
            {
                requeued += (await engine.ApplyAllAsync(jobs.Select(j => JobRules.HandedBack(j, now)).ToList())).Count(a => a == ApplyOutcome.Applied);
            }

            await store.ForgetOwnerAsync(shardOwner);
        }

        return requeued;
    }

    // ------------------------------------------------------------------ maintenance

    private async Task MaintenanceLoopAsync()
    {
        var token = _stopAll.Token;
        var options = engine.Options;
        var purge = new Period(engine.Time, TimeSpan.FromMinutes(1), first: TimeSpan.FromSeconds(10));
        var count = new Period(engine.Time, TimeSpan.FromSeconds(5), first: TimeSpan.Zero);
        var queues = new Period(engine.Time, TimeSpan.FromSeconds(2), first: TimeSpan.FromSeconds(5));
        while (!token.IsCancellationRequested)
        {
            var now = engine.Time.GetUtcNow();
            var sleep = options.PollInterval;
            await StepAsync("schedules", async () =>
            {
                if (await schedules.FireDueAsync() is { } nextTick && nextTick - engine.Time.GetUtcNow() < sleep)
                {
                    sleep = Max(nextTick - engine.Time.GetUtcNow(), TimeSpan.FromMilliseconds(5));
                }
            });

            await StepAsync("promote", async () =>
            {
                var (due, nextDue) = await engine.Store.DueAsync(now, 1000);
                var transitions = due.Select(j => JobRules.Promote(j, now)).OfType<JobTransition>().ToList();
                if (transitions.Count > 0)
                {
                    await engine.Store.ApplyAsync(transitions);
                }

                if (due.Count < 1000 && nextDue is { } next && next - now < sleep)
                {
                    sleep = Max(next - now, TimeSpan.FromMilliseconds(5));
                }
                else if (due.Count >= 1000)
                {
                    sleep = TimeSpan.Zero;
                }
            });

            if (queues.Due())
            {
                await StepAsync("queues", () => QueueUpkeepAsync(now));
            }

            if (count.Due())
            {
                await StepAsync("count", async () =>
                {
                    engine.Instruments.SetQueued(await engine.Store.CountQueuedAsync());
                    var (waiting, schedules) = await engine.Store.CountWaitingAndSchedulesAsync();
                    engine.Instruments.SetWaitingAndSchedules(waiting, schedules);
                });
                await StepAsync("clock", CheckClockAsync);
            }

            if (purge.Due())
            {
                await StepAsync("purge", async () =>
                {
                    var purged = await engine.Store.PurgeAsync(now, new RetentionPolicy(options.SucceededRetention, options.CancelledRetention, options.DeadLetteredRetention), 5000);
                    if (purged > 0)
                    {
                        JobLog.Purged(logger, purged);
                    }

                    await engine.Store.ForgetRevokedAsync(now - TimeSpan.FromDays(1));
                });
            }

            if (_idleTrim.Due(engine.Tracker.Started, engine.Tracker.Busy, out var attempts))
            {
                var started = engine.Time.GetTimestamp();
                var (before, after) = IdleTrim.Collect();
                JobLog.MemoryTrimmed(logger, options.IdleTrimDelay.TotalSeconds, attempts, before / 1048576.0, after / 1048576.0, engine.Time.GetElapsedTime(started).TotalMilliseconds);
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

    /// <summary>Measures this silo's clock against the store's; says so when the gap goes past <see cref="ClockTolerance"/>, and when it is back within.</summary>
    private async Task CheckClockAsync()
    {
        var (skew, uncertainty, decided) = await engine.MeasureClockSkewAsync();
        _clockDecided |= decided;
        var off = skew.Duration() - uncertainty > ClockTolerance;
        if (off != _clockOff)
        {
            if (off)
            {
                JobLog.ClockSkewed(logger, skew.TotalSeconds, ClockTolerance.TotalSeconds);
            }
            else
            {
                JobLog.ClockInSync(logger, skew.TotalSeconds, ClockTolerance.TotalSeconds);
            }
        }

        _clockOff = off;
    }

    /// <summary>The sweep of waiting jobs and open batches, in a loop of its own (it must not hold back promotions and ticks).</summary>
    private async Task FollowUpLoopAsync()
    {
        var token = _stopAll.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(FollowUpSweepInterval, engine.Time, token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            await StepAsync("follow-ups", engine.FollowUps.SweepAsync);
        }
    }

    /// <summary>
    /// Every few seconds: re-reads the queues' settings, ends timed pauses that are over, sets this silo's concurrency
    /// permits to what it really holds (its attempts plus its claims in progress: see <see cref="PermitLedger"/>),
    /// forgets the permits of revoked owners, and brings the shards' paused sets in line with the settings.
    /// </summary>
    private async Task QueueUpkeepAsync(DateTimeOffset now)
    {
        // The shards' paused sets before the settings (settings are written first), to bring the sets in line with them.
        var paused = await engine.Store.PausedSetsAsync();
        var all = await engine.RefreshQueueSettingsAsync();
        _queues = all.Keys.Order(StringComparer.Ordinal).ToList();
        if (await engine.Store.ReconcilePausedAsync(all, paused) > 0)
        {
            JobLog.PausedSetsReconciled(logger);
        }

        foreach (var (queue, settings) in all)
        {
            // Decided again on what is stored when it writes: an operator may have paused the queue anew, or changed
            // its limits, since it was read; their change stays.
            if (settings is { Paused: true, PausedUntil: { } until } && until <= now
                && (await engine.Store.UpdateQueueSettingsAsync(queue, s => s is { Paused: true, PausedUntil: { } u } && u <= now ? s with { Paused = false, PausedUntil = null } : null)).Changed)
            {
                JobLog.QueueResumed(logger, queue);
            }

            if (settings.MaxConcurrency is not null && Leased)
            {
                // Only under a leased name: the upkeep forgets the permits of names without a lease.
                await _permits.SetOwnAsync(queue, engine.Owner, () => engine.Tracker.CountOfQueue(queue));
            }
        }

        // Permits held by owner names without a lease (dead silos, or this one's own retired names): held by no one.
        await engine.Store.ForgetUnleasedPermitsAsync(all.Where(q => q.Value.MaxConcurrency is not null).Select(q => q.Key).ToList());
    }

    private async Task StepAsync(string step, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex)
        {
            JobLog.MaintenanceFailed(logger, ex, step);
        }
    }

    private async Task WatchMembershipAsync()
    {
        var token = _stopAll.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await foreach (var _ in membership.MembershipUpdates.WithCancellation(token))
                {
                    await StepAsync("recovery", () => RecoverAsync(engine.Time.GetUtcNow()));
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

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// This silo's last renewal: the engine's time it wrote its lease end from, and the silo's timestamp then. The lease
    /// counts as lost when either clock says a lease period has passed: the monotonic one whatever steps the engine's time
    /// made since (an hour back must not hide a lost lease for an hour), the engine's when it ran ahead of the monotonic
    /// one (a resumed machine whose monotonic clock stood still while the others' ran on).
    /// </summary>
    internal sealed record Renewal(DateTimeOffset At, long Timestamp)
    {
        public TimeSpan Since(DateTimeOffset now, TimeProvider time) => Max(now - At, time.GetElapsedTime(Timestamp));
    }
}
