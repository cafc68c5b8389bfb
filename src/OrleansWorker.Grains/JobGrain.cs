using Orleans.Placement;
using OrleansWorker.Execution;

namespace OrleansWorker;

/// <summary>
/// A job's live handle while an attempt runs: placed on the silo that claimed it, it runs the handler and
/// answers cancel and wait. Idle, it deactivates; the store answers for the job then.
/// </summary>
[PreferLocalPlacement]
[GrainType("ow-job")]
internal sealed class JobGrain(JobEngine engine, AttemptRunner runner) : Grain, IJobGrain
{
    private RunningAttempt? _running;
    private ClaimedAttempt? _next;

    public async Task StartAsync(ClaimedAttempt attempt)
    {
        if (_running is { } current)
        {
            if (attempt.ClaimToken <= current.Claim.ClaimToken)
            {
                // A duplicate, or a hand-off that arrived late after its claim was released: the store refuses it.
                return;
            }

            // A newer claim of this job while an older, already-released one still runs here (its hand-off timed out,
            // then arrived): the older run's outcome will be refused as stale, so cut it short and run the new one next.
            current.Abandon();
            _next = attempt;
            return;
        }

        await StartCoreAsync(attempt);
    }

    private async Task StartCoreAsync(ClaimedAttempt attempt)
    {
        if (attempt.Owner != engine.Owner)
        {
            // This activation lives on another silo than the claimer's (something addressed the job first):
            // take the lease over so that this silo renews it and recovery follows where the attempt really runs.
            if (!await engine.Store.TransferAsync(attempt.JobId, attempt.Attempt, attempt.Owner, engine.Owner))
            {
                return;
            }

            attempt = attempt with { Owner = engine.Owner };
        }

        var running = new RunningAttempt(attempt);
        if (!engine.Tracker.TryAdd(running))
        {
            running.Dispose();
            return;
        }

        _running = running;
        DelayDeactivation(attempt.Timeout + TimeSpan.FromMinutes(1));
        _ = RunAsync(running);
    }

    public Task<bool> CancelAsync()
    {
        if (_running is null)
        {
            DeactivateOnIdle();
            return Task.FromResult(false);
        }

        _running.Cancel();
        return Task.FromResult(true);
    }

    public async Task WaitForAttemptAsync(TimeSpan timeout)
    {
        if (_running is { } running)
        {
            try
            {
                await running.Finished.Task.WaitAsync(timeout, engine.Time);
            }
            catch (TimeoutException)
            {
                // The caller re-reads the store either way.
            }
        }
        else
        {
            DeactivateOnIdle();
        }
    }

    private async Task RunAsync(RunningAttempt running)
    {
        try
        {
            await runner.RunAsync(running);
        }
        finally
        {
            engine.Tracker.Remove(running);
            running.Finished.TrySetResult();
            running.Dispose();
            _running = null;
        }

        if (_next is { } next)
        {
            _next = null;
            await StartCoreAsync(next);
        }
        else
        {
            DeactivateOnIdle();
        }
    }
}
