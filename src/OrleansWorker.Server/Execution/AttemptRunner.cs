using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansWorker.Handlers;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>Runs one attempt: the handler under its timeout and cancellation, then stores the outcome the rules decide.</summary>
internal sealed class AttemptRunner(JobEngine engine, JobHandlerRegistry handlers, IServiceScopeFactory scopes, ILoggerFactory loggers, JobDispatcher dispatcher)
{
    private readonly ILogger _logger = loggers.CreateLogger("OrleansWorker.Jobs");

    public async Task RunAsync(RunningAttempt running)
    {
        var claim = running.Claim;
        var time = engine.Time;
        ActivityContext.TryParse(claim.TraceParent, null, out var parent);
        using var activity = JobInstruments.ActivitySource.StartActivity(claim.Type, ActivityKind.Consumer, parent);
        activity?.SetTag("job.id", claim.JobId);
        activity?.SetTag("job.type", claim.Type);
        activity?.SetTag("job.queue", claim.Queue);
        activity?.SetTag("job.attempt", claim.Attempt);
        activity?.SetTag("job.max_attempts", claim.MaxAttempts);
        using var scope = _logger.BeginScope(new JobLogScope(claim, activity));

        engine.Instruments.QueueWait(claim.Queue, Math.Max(0, (claim.StartedAt - claim.EnqueuedAt).TotalSeconds));
        JobLog.Processing(_logger, claim.JobId, claim.Type, claim.Attempt, claim.MaxAttempts, claim.Queue);
        var started = time.GetTimestamp();
        var (end, exception) = await ExecuteHandlerAsync(running, activity);
        var elapsed = time.GetElapsedTime(started);

        if (end.Outcome == AttemptOutcome.Succeeded && end.Result is { } result && Encoding.UTF8.GetByteCount(result) is var bytes && bytes > engine.Options.MaxResultBytes)
        {
            JobLog.ResultTooLarge(_logger, claim.JobId, claim.Attempt, bytes, engine.Options.MaxResultBytes);
            end = new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("ResultTooLarge", $"The result is {bytes} bytes; the limit is {engine.Options.MaxResultBytes}."));
        }
        else if (end.Outcome == AttemptOutcome.Succeeded && end.Result is { } text && !JsonText.IsValid(text))
        {
            // A raw handler returns JSON text: stored as it is, anything else would break every reader of the job.
            JobLog.ResultNotJson(_logger, claim.JobId, claim.Attempt);
            end = new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("ResultNotJson", "The handler's result is not valid JSON text (a raw IJobHandler returns JSON: a string result is quoted)."), Permanent: true);
        }

        if (end.Outcome is not AttemptOutcome.Succeeded)
        {
            activity?.SetStatus(ActivityStatusCode.Error, end.Error?.Message);
            if (exception is not null)
            {
                activity?.AddException(exception);
            }
        }

        var now = time.GetUtcNow();

        // The handler is done (the attempt ends at `now`): its slot can take another job while the outcome is stored.
        engine.Tracker.HandlerEnded(running);
        var decided = JobRules.AttemptEnded(claim, end, now, engine.Retry, Random.Shared.NextDouble());
        var (stored, applied) = await StoreAsync(decided);
        engine.Tracker.Finished(engine.Store.Keys.ShardOf(claim.JobId), claim.JobId);
        if (applied is null or ApplyOutcome.Stale)
        {
            // Not stored (the store did not answer), or refused because another silo took the job over (it found this
            // silo's lease expired or revoked, and recorded the attempt as interrupted): the silo lived, so that
            // interruption goes back (a no-op unless the job's last interruption is this very claim's).
            dispatcher.RefundIfInterrupted(claim);
        }

        await ReleaseAsync(claim, end, now);
        var effect = applied switch
        {
            null => "unknown",
            ApplyOutcome.Stale => "stale",
            _ => Effect(stored, end.Outcome),
        };
        activity?.SetTag("job.outcome", effect);
        if (applied == ApplyOutcome.Applied && effect is not "released" and not "deferred")
        {
            var outcomeLabel = stored.To switch
            {
                JobState.Succeeded => "succeeded",
                JobState.Cancelled => "cancelled",
                _ => "failed",
            };
            engine.Instruments.Processed(claim.Type, claim.Queue, outcomeLabel, elapsed.TotalSeconds, activity?.TraceId);
        }

        switch (effect)
        {
            case "succeeded":
                JobLog.Completed(_logger, claim.JobId, claim.Type, claim.Attempt, elapsed.TotalMilliseconds);
                break;
            case "retrying":
                engine.Instruments.Retried(claim.Type, claim.Queue);
                JobLog.Retrying(_logger, exception, claim.JobId, claim.Type, claim.Attempt, claim.MaxAttempts, end.Outcome, stored.RunAt ?? now);
                break;
            case "dead-lettered":
                engine.Instruments.DeadLettered(claim.Type, claim.Queue);
                JobLog.DeadLettered(_logger, exception, claim.JobId, claim.Type, claim.Attempt, claim.MaxAttempts, end.Outcome);
                break;
            case "deferred":
                JobLog.Deferred(_logger, claim.JobId, claim.Type, claim.Attempt, stored.RunAt ?? now);
                break;
            case "cancelled":
                JobLog.Cancelled(_logger, claim.JobId, claim.Type, claim.Attempt);
                break;
            case "stale":
                JobLog.Stale(_logger, claim.JobId, claim.Type, claim.Attempt);
                break;
            default:
                break;
        }
    }

    /// <summary>Gives back the queue's concurrency permit, and pauses the queue when the handler asked for it (429).</summary>
    private async Task ReleaseAsync(ClaimedAttempt claim, AttemptEnd end, DateTimeOffset now)
    {
        try
        {
            if (claim.HoldsPermit)
            {
                await engine.Store.ReleasePermitsAsync(claim.Queue, claim.Owner, 1);
            }

            if (end is { PauseQueue: true, RetryAfter: { } wait })
            {
                await engine.PauseQueueUntilAsync(claim.Queue, now + wait);
                JobLog.QueuePausedByHandler(_logger, claim.Queue, now + wait);
            }
        }
        catch (Exception ex)
        {
            // The silo's periodic permit upkeep corrects a lost release.
            JobLog.MaintenanceFailed(_logger, ex, "release");
        }
    }

    private static string Effect(JobTransition stored, AttemptOutcome outcome) => stored.To switch
    {
        JobState.Succeeded => "succeeded",
        JobState.Cancelled => "cancelled",
        JobState.DeadLettered => "dead-lettered",
        JobState.Queued => "released",
        JobState.Scheduled when outcome == AttemptOutcome.RateLimited => "deferred",
        _ => "retrying",
    };

    private async Task<(AttemptEnd End, Exception? Exception)> ExecuteHandlerAsync(RunningAttempt running, Activity? activity)
    {
        var claim = running.Claim;
        var started = engine.Time.GetTimestamp();
        ITimer? timer = null;
        try
        {
            var registration = handlers.Find(claim.Type)
                ?? throw new UnrecoverableJobException($"No handler is registered for job type '{claim.Type}' on this silo (it knows {string.Join(", ", handlers.Types)}).");
            await using var scope = scopes.CreateAsyncScope();
            var handler = scope.ServiceProvider.GetRequiredService(registration.HandlerType);
            var context = new EngineJobContext(claim, _logger, activity, engine.Store);

            // The handler's token is the attempt's: cancel, shutdown, lease loss and the timeout all fire it. The timeout's
            // timer starts only when the handler goes asynchronous (with the time it already took deducted): a handler that
            // returns at once costs no timer. A handler that ignores its token cannot hold the attempt past its timeout.
            var invocation = registration.Invoker.InvokeAsync(handler, context, running.Token);
            if (!invocation.IsCompleted)
            {
                var left = claim.Timeout - engine.Time.GetElapsedTime(started);
                if (left > TimeSpan.Zero)
                {
                    timer = engine.Time.CreateTimer(static state => ((RunningAttempt)state!).TimeOut(), running, left, Timeout.InfiniteTimeSpan);
                }
                else
                {
                    running.TimeOut();
                }
            }

            var result = await invocation.WaitAsync(running.Token);
            return (new AttemptEnd(AttemptOutcome.Succeeded, result), null);
        }
        catch (OperationCanceledException ex) when (running.CancelRequested)
        {
            return (new AttemptEnd(AttemptOutcome.Cancelled, Error: new JobError("JobCancelled", "The job was cancelled while the attempt ran.")), ex);
        }
        catch (OperationCanceledException ex) when (running.TimedOut)
        {
            return (new AttemptEnd(AttemptOutcome.TimedOut, Error: new JobError("TimeoutException", $"The attempt exceeded the job's timeout of {claim.Timeout}.")), ex);
        }
        catch (OperationCanceledException ex) when (running.Abandoned != AbandonReason.None)
        {
            return (new AttemptEnd(AttemptOutcome.Interrupted, Error: new JobError("AttemptInterrupted", running.Abandoned == AbandonReason.Shutdown
                ? "The silo shut down before the attempt finished."
                : "The silo lost its lease on the job before the attempt finished.")), ex);
        }
        catch (JobPayloadException ex)
        {
            return (new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("PayloadError", Truncate(ex.Message)), Permanent: true), ex);
        }
        catch (UnrecoverableJobException ex)
        {
            return (new AttemptEnd(AttemptOutcome.Failed, Error: Error(ex), Permanent: true), ex);
        }
        catch (JobRateLimitedException ex)
        {
            return (new AttemptEnd(AttemptOutcome.RateLimited, Error: Error(ex), RetryAfter: ex.RetryAfter, PauseQueue: ex.PauseQueue), ex);
        }
        catch (Exception ex)
        {
            return (new AttemptEnd(AttemptOutcome.Failed, Error: Error(ex)), ex);
        }
        finally
        {
            timer?.Dispose();
        }
    }

    private static JobError Error(Exception ex) => new(ex.GetType().FullName ?? ex.GetType().Name, Truncate(ex.Message), ex.StackTrace is { } stack ? Truncate(stack) : null);

    /// <summary>
    /// Stores the decided outcome; the attempt is acknowledged only after this. A cancellation requested meanwhile
    /// wins (the job ends Cancelled). While the store is unreachable it keeps trying for one lease period; past that
    /// the lease has expired, another silo requeues the job, and a late write would be refused as stale anyway.
    /// </summary>
    private async Task<(JobTransition Stored, ApplyOutcome? Applied)> StoreAsync(JobTransition decided)
    {
        var deadline = Deadline.In(engine.Time, engine.Options.LeaseDuration);
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                var (stored, applied) = await Completion.ApplyAsync(decided, engine.ApplyAsync);
                return (stored, applied);
            }
            catch (Exception ex) when (!deadline.Passed)
            {
                JobLog.CompletionWriteFailed(_logger, ex, decided.Job.Id, decided.Job.Attempt);
                await Task.Delay(delay, engine.Time);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
            catch (Exception)
            {
                JobLog.CompletionAbandoned(_logger, decided.Job.Id, decided.Job.Attempt);
                return (decided, null);
            }
        }
    }

    private static string Truncate(string message) => message.Length <= 2048 ? message : string.Concat(message.AsSpan(0, 2048), "…");
}

/// <summary>The engine's <see cref="JobContext"/> for one attempt.</summary>
internal sealed class EngineJobContext(ClaimedAttempt claim, ILogger logger, Activity? activity, JobStore store) : JobContext
{
    public override string JobId => claim.JobId;

    public override string JobType => claim.Type;

    public override string Queue => claim.Queue;

    public override int Attempt => claim.Attempt;

    public override int MaxAttempts => claim.MaxAttempts;

    public override string? Payload => claim.Payload;

    public override string? TraceId => activity?.TraceId.ToHexString() ?? TraceContext.TraceIdOf(claim.TraceParent);

    public override ILogger Logger => logger;

    public override Task ReportProgressAsync(int percent, string? message = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percent, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        return store.ReportProgressAsync(claim.JobId, claim.ClaimToken, new JobProgress(percent, message)).WaitAsync(cancellationToken);
    }
}

/// <summary>The structured log scope of an attempt: JobId, JobType, Attempt, TraceId, SpanId.</summary>
internal sealed class JobLogScope(ClaimedAttempt claim, Activity? activity) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly KeyValuePair<string, object?>[] _items =
    [
        new("JobId", claim.JobId),
        new("JobType", claim.Type),
        new("Attempt", claim.Attempt),
        new("TraceId", activity?.TraceId.ToHexString() ?? TraceContext.TraceIdOf(claim.TraceParent)),
        new("SpanId", activity?.SpanId.ToHexString()),
    ];

    public int Count => _items.Length;

    public KeyValuePair<string, object?> this[int index] => _items[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_items).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _items.GetEnumerator();

    public override string ToString() => $"JobId:{claim.JobId} JobType:{claim.Type} Attempt:{claim.Attempt} TraceId:{_items[3].Value} SpanId:{_items[4].Value}";
}
