using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>How an attempt ended, as its runner saw it.</summary>
/// <param name="Outcome">The attempt's outcome.</param>
/// <param name="Result">The result (JSON) of a successful attempt.</param>
/// <param name="Error">What went wrong.</param>
/// <param name="Permanent">The failure will not go away by retrying (bad payload, the handler said so): dead-letter now.</param>
/// <param name="RetryAfter">For <see cref="AttemptOutcome.RateLimited"/>: when to run again.</param>
/// <param name="PauseQueue">For <see cref="AttemptOutcome.RateLimited"/>: the handler asked to pause the whole queue meanwhile.</param>
internal sealed record AttemptEnd(AttemptOutcome Outcome, string? Result = null, JobError? Error = null, bool Permanent = false, TimeSpan? RetryAfter = null, bool PauseQueue = false);

/// <summary>Backoff settings of the retry rule.</summary>
internal sealed record RetrySettings(TimeSpan BaseDelay, TimeSpan MaxDelay);

/// <summary>
/// Every rule of a job's life, in one place: what each event does to a job. Pure functions from what is known of the
/// job to a <see cref="JobTransition"/>; the store applies a transition only if the job has not moved on meanwhile.
/// </summary>
/// <remarks>
/// The rules:
/// <list type="bullet">
/// <item>A succeeded attempt ends the job Succeeded; a failed or timed-out one schedules a retry after an exponential
/// backoff while attempts remain, else dead-letters it; a permanent failure dead-letters it at once.</item>
/// <item>A cancellation requested while an attempt runs wins over whatever the attempt returns: the job ends Cancelled.</item>
/// <item>An attempt handed back unfinished (graceful shutdown, a failed hand-off) is not an attempt: the job is ready
/// again with the same attempt number. So is one the handler deferred because a remote side rate-limited it (it waits
/// until the retry time).</item>
/// <item>An attempt cut short because its silo vanished or lost its lease is an interruption: it does not use up an
/// attempt, but interruptions have their own budget, so a job that takes its silo down every time ends dead-lettered.
/// A silo that was only cut off and comes back gives its interruptions back.</item>
/// <item>Queued, Scheduled and Waiting jobs can be cancelled; DeadLettered and Cancelled jobs can be requeued with a
/// fresh budget; only finished jobs can be deleted.</item>
/// </list>
/// </remarks>
internal static class JobRules
{
    /// <summary>What is known of a job from its claim (it is Running, owned by the claimer, under the claim token).</summary>
    public static JobSnapshot FromClaim(ClaimedAttempt claim) => new(
        claim.JobId, claim.Type, claim.Queue, claim.Priority, claim.Seq, JobState.Running, claim.ClaimToken, claim.Attempt, claim.MaxAttempts,
        claim.Interruptions, claim.MaxInterruptions, claim.Owner, CancelRequested: false, RunAt: null, FinishedAt: null, claim.CreatedAt, claim.StartedAt)
    {
        BatchId = claim.BatchId,
        HasDependents = claim.HasDependents,
    };

    /// <summary>
    /// A Waiting job whose dependencies (some of them) finished: it ends Cancelled, naming the dependency, as soon as one
    /// ended DeadLettered or Cancelled or was deleted — unless it continues on failure; it is ready (or scheduled, if it
    /// has a start time still ahead) once none is pending. Null while it still waits.
    /// </summary>
    /// <param name="waiting">The waiting job.</param>
    /// <param name="finished">Dependencies found finished (their state) or gone (null).</param>
    /// <param name="stillPending">Dependencies not finished yet.</param>
    /// <param name="now">Now.</param>
    public static JobTransition? DependenciesSettled(JobSnapshot waiting, IReadOnlyList<(string Id, JobState? State)> finished, long stillPending, DateTimeOffset now)
    {
        if (waiting.State != JobState.Waiting)
        {
            return null;
        }

        if (!waiting.ContinueOnDependencyFailure)
        {
            foreach (var (id, state) in finished)
            {
                if (state != JobState.Succeeded)
                {
                    var what = state is { } s ? $"ended {s}" : "was deleted";
                    return new JobTransition(waiting, JobState.Cancelled, now)
                    {
                        Error = new JobError("DependencyFailed", $"Job {id}, which this job depends on, {what}."),
                    };
                }
            }
        }

        if (stillPending > 0)
        {
            return null;
        }

        return waiting.RunAt is { } at && at > now
            ? new JobTransition(waiting, JobState.Scheduled, now) { RunAt = at }
            : new JobTransition(waiting, JobState.Queued, now);
    }

    /// <summary>The job after an attempt ended on its silo.</summary>
    public static JobTransition AttemptEnded(ClaimedAttempt claim, AttemptEnd end, DateTimeOffset now, RetrySettings retry, double random01)
    {
        var job = FromClaim(claim);
        var record = Record(claim, end.Outcome, now, end.Error);
        switch (end.Outcome)
        {
            case AttemptOutcome.Succeeded:
                return new JobTransition(job, JobState.Succeeded, now) { HonorCancel = true, Result = end.Result, Record = record };

            case AttemptOutcome.Cancelled:
                return new JobTransition(job, JobState.Cancelled, now) { Record = record, Error = end.Error };

            case AttemptOutcome.Interrupted:
                // Handed back unfinished: not an attempt of the job's.
                return new JobTransition(job, JobState.Queued, now) { HonorCancel = true, Attempt = claim.Attempt - 1 };

            case AttemptOutcome.RateLimited:
                return new JobTransition(job, JobState.Scheduled, now)
                {
                    HonorCancel = true, Attempt = claim.Attempt - 1, RunAt = now + (end.RetryAfter ?? retry.BaseDelay), Record = record, Error = end.Error,
                };

            default:
                if (end.Permanent || claim.Attempt >= claim.MaxAttempts)
                {
                    return new JobTransition(job, JobState.DeadLettered, now) { HonorCancel = true, Record = record, Error = end.Error };
                }

                var delay = RetryPolicy.ComputeDelay(claim.Attempt, retry.BaseDelay, retry.MaxDelay, random01);
                return new JobTransition(job, JobState.Scheduled, now) { HonorCancel = true, RunAt = now + delay, Record = record, Error = end.Error };
        }
    }

    /// <summary>The job when its cancellation turned out to be requested while the attempt ran: Cancelled, keeping the attempt's record.</summary>
    public static JobTransition CancelledWhileRunning(JobTransition decided)
    {
        var record = decided.Record;
        return new JobTransition(decided.Job, JobState.Cancelled, decided.Now)
        {
            Record = record,
            Error = new JobError("JobCancelled", "The job was cancelled while the attempt ran."),
        };
    }

    /// <summary>A running job whose owner vanished or lost its lease (another silo recovers it).</summary>
    public static JobTransition Interrupted(JobSnapshot job, string reason, DateTimeOffset now)
    {
        var error = new JobError("AttemptInterrupted", reason);
        var record = new JobAttempt
        {
            Number = job.Attempt, StartedAt = job.Since, EndedAt = now, Silo = JobStore.OwnerSilo(job.Owner), Outcome = AttemptOutcome.Interrupted, Error = error,
        };
        var interruptions = job.Interruptions + 1;
        var to = job.CancelRequested ? JobState.Cancelled
            : interruptions >= job.MaxInterruptions ? JobState.DeadLettered
            : JobState.Queued;
        if (to == JobState.DeadLettered)
        {
            error = new JobError("AttemptInterrupted", $"{reason} The job was interrupted {interruptions} times (limit {job.MaxInterruptions}): a job whose silo goes away every time it runs is dead-lettered.");
        }

        // A cancellation requested after the job was read (it does not change the token) must still win: refused, the
        // caller applies Cancelled instead (JobEngine.ApplyAllAsync).
        return new JobTransition(job, to, now)
        {
            HonorCancel = to != JobState.Cancelled,
            Attempt = Math.Max(0, job.Attempt - 1), Interruptions = interruptions, InterruptedToken = job.Token, Record = record, Error = error,
        };
    }

    /// <summary>A running job its own silo hands back as it stops (the attempt is not counted); a cancellation wins as in <see cref="Interrupted"/>.</summary>
    public static JobTransition HandedBack(JobSnapshot job, DateTimeOffset now) =>
        new(job, job.CancelRequested ? JobState.Cancelled : JobState.Queued, now) { HonorCancel = !job.CancelRequested, Attempt = Math.Max(0, job.Attempt - 1) };

    /// <summary>A scheduled job that is due.</summary>
    public static JobTransition? Promote(JobSnapshot job, DateTimeOffset now) =>
        job.State == JobState.Scheduled && (job.RunAt is null || job.RunAt <= now) ? new JobTransition(job, JobState.Queued, now) : null;

    /// <summary>A caller cancels the job; null with a reason when its state forbids it.</summary>
    public static (JobTransition? Transition, string? Refusal) Cancel(JobSnapshot job, DateTimeOffset now) => job.State switch
    {
        JobState.Queued or JobState.Scheduled or JobState.Waiting => (new JobTransition(job, JobState.Cancelled, now), null),
        JobState.Running when job.CancelRequested => (null, null),
        JobState.Running => (new JobTransition(job, JobState.Running, now) { Kind = TransitionKind.CancelFlag }, null),
        _ => (null, $"The job is {job.State}; only Queued, Scheduled, Waiting or Running jobs can be cancelled."),
    };

    /// <summary>
    /// A caller requeues a dead-lettered or cancelled job, with a fresh attempt and interruption budget. A job with
    /// dependencies waits for them again (those that succeeded are dropped when it is settled; one that failed cancels it
    /// again, unless it continues on failure): it runs only once every one of them succeeded, as when it was submitted.
    /// </summary>
    public static (JobTransition? Transition, string? Refusal) Requeue(JobSnapshot job, DateTimeOffset now) => job.State switch
    {
        JobState.DeadLettered or JobState.Cancelled => (new JobTransition(job, job.DependsOn.Count > 0 ? JobState.Waiting : JobState.Queued, now)
        {
            Attempt = 0, Interruptions = 0, Reset = true,
        }, null),
        _ => (null, $"The job is {job.State}; only DeadLettered or Cancelled jobs can be retried."),
    };

    /// <summary>A caller deletes a finished job.</summary>
    public static (JobTransition? Transition, string? Refusal) Delete(JobSnapshot job, DateTimeOffset now) => job.State.IsFinished()
        ? (new JobTransition(job, job.State, now) { Kind = TransitionKind.Delete }, null)
        : (null, $"The job is {job.State}; only finished jobs can be deleted.");

    private static JobAttempt Record(ClaimedAttempt claim, AttemptOutcome outcome, DateTimeOffset now, JobError? error) => new()
    {
        Number = claim.Attempt, StartedAt = claim.StartedAt, EndedAt = now, Silo = JobStore.OwnerSilo(claim.Owner), Outcome = outcome, Error = error,
    };
}

/// <summary>Stores a decided attempt outcome, letting a cancellation that was requested meanwhile win.</summary>
internal static class Completion
{
    /// <summary>Applies <paramref name="decided"/>; if the job's cancellation was requested meanwhile, applies Cancelled instead.</summary>
    public static async Task<(JobTransition Stored, ApplyOutcome Outcome)> ApplyAsync(JobTransition decided, Func<JobTransition, Task<ApplyOutcome>> apply)
    {
        var outcome = await apply(decided);
        if (outcome == ApplyOutcome.CancelRequested)
        {
            decided = JobRules.CancelledWhileRunning(decided);
            outcome = await apply(decided);
        }

        return (decided, outcome);
    }

    /// <summary>
    /// <see cref="ApplyAsync"/> for many transitions in one store call: those refused for a cancellation requested
    /// meanwhile are applied again as Cancelled, in a second call. Returns what was stored and each outcome.
    /// </summary>
    public static async Task<(IReadOnlyList<JobTransition> Stored, ApplyOutcome[] Outcomes)> ApplyAllAsync(
        IReadOnlyList<JobTransition> decided, Func<IReadOnlyList<JobTransition>, Task<ApplyOutcome[]>> apply)
    {
        var outcomes = await apply(decided);
        var refused = Enumerable.Range(0, decided.Count).Where(i => outcomes[i] == ApplyOutcome.CancelRequested).ToList();
        if (refused.Count == 0)
        {
            return (decided, outcomes);
        }

        var cancelled = refused.Select(i => JobRules.CancelledWhileRunning(decided[i])).ToList();
        var again = await apply(cancelled);
        var stored = decided.ToArray();
        for (var k = 0; k < refused.Count; k++)
        {
            stored[refused[k]] = cancelled[k];
            outcomes[refused[k]] = again[k];
        }

        return (stored, outcomes);
    }
}
