using Microsoft.Extensions.Logging;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// What happens after a job finished: the jobs that wait for it are settled (run, or cancelled naming it), and its
/// batch is closed — and its completion job submitted — once every member finished.
/// </summary>
/// <remarks>
/// Two paths, one outcome. The fast path runs right after this silo stored a final state of a job that had dependents
/// (as its claim saw it: a dependent submitted while the job ran waits for the sweep) or a batch. The sweep (every few seconds, on every silo) settles every Waiting job and checks every open batch from
/// the store alone, so a silo that died between storing an outcome and its follow-up delays it by a sweep, never loses
/// it. Both are idempotent: a transition applies only to the job as it was read, a batch closes once, and a completion
/// job has a fixed id.
/// </remarks>
internal sealed class JobFollowUps(JobEngine engine, ILogger logger)
{
    /// <summary>Waiting jobs and open batches one sweep looks at, per shard.</summary>
    public const int SweepSize = 500;

    private long _waitingCursor;
    private long _batchCursor;

    /// <summary>Called with each transition this silo stored.</summary>
    public void OnApplied(JobTransition transition)
    {
        if (!transition.To.IsFinished())
        {
            return;
        }

        var job = transition.Job;
        if (job.HasDependents)
        {
            _ = GuardAsync(job.Id, "dependents", () => ReleaseDependentsAsync(job.Id, transition.To));
        }

        if (job.BatchId is { } batch)
        {
            _ = GuardAsync(job.Id, "batch", () => CheckBatchAsync(batch));
        }
    }

    /// <summary>Settles a new waiting job in the background (its dependencies may have finished before it was stored).</summary>
    public void SettleSoon(string waiting) => _ = GuardAsync(waiting, "settle", () => SettleAsync(waiting));

    /// <summary>Settles the jobs waiting for <paramref name="id"/>, which finished in <paramref name="state"/>.</summary>
    public async Task ReleaseDependentsAsync(string id, JobState state)
    {
        foreach (var waiting in await engine.Store.DependentsAsync(id))
        {
            var job = await engine.Store.LoadAsync(waiting);
            if (job is not { State: JobState.Waiting })
            {
                continue;
            }

            // Only a dependency that lets the job run is dropped from its pending set: a failed one stays there until the
            // job's cancellation is stored, so a settler that races this one, or the sweep after a crash, still sees it.
            var left = Releases(job, state)
                ? await engine.Store.DropDependenciesAsync(waiting, [id])
                : (await engine.Store.PendingAsync(waiting)).Length;
            await ApplyAsync(JobRules.DependenciesSettled(job, [(id, state)], left, engine.Time.GetUtcNow()));
        }
    }

    /// <summary>Settles one waiting job from the store: drops its finished dependencies, then runs or cancels it if it is time.</summary>
    public async Task SettleAsync(string waiting)
    {
        var job = await engine.Store.LoadAsync(waiting);
        if (job is not { State: JobState.Waiting })
        {
            return;
        }

        var pending = await engine.Store.PendingAsync(waiting);
        var dependencies = await engine.Store.LoadAsync(pending);
        var finished = new List<(string Id, JobState? State)>();
        for (var i = 0; i < pending.Length; i++)
        {
            if (dependencies[i] is not { } d || d.State.IsFinished())
            {
                finished.Add((pending[i], dependencies[i]?.State));
            }
        }

        var released = finished.Where(f => Releases(job, f.State)).Select(f => f.Id).ToList();
        var left = released.Count == 0 ? pending.Length : await engine.Store.DropDependenciesAsync(waiting, released);
        await ApplyAsync(JobRules.DependenciesSettled(job, finished, left, engine.Time.GetUtcNow()));
    }

    /// <summary>Whether a finished dependency (null: deleted) no longer holds <paramref name="job"/> back.</summary>
    private static bool Releases(JobSnapshot job, JobState? dependency) => dependency == JobState.Succeeded || job.ContinueOnDependencyFailure;

    /// <summary>Closes a batch whose members all finished, submitting its completion job in the same step.</summary>
    public async Task CheckBatchAsync(string batchId)
    {
        if (await engine.Store.BatchAsync(batchId) is not { View.Finished: true, Closed: false } batch)
        {
            return;
        }

        var view = batch.View;
        NewJob? completion = null;
        IReadOnlyList<JobValidationError> invalid = [];
        if (batch.Completion is { } request)
        {
            var payload = request.Payload ?? System.Text.Json.JsonSerializer.Serialize(
                new BatchCompletion(view.Id, view.Total, view.Succeeded, view.DeadLettered, view.Cancelled), JobContext.JsonOptions);
            // Accepted with the batch, so not held to a payload limit lowered since (its default payload is ours).
            invalid = JobValidator.Validate([request with { Id = JobStore.BatchCompletionId(batchId), Payload = payload }], engine.Options,
                _ => true, [], engine.Time.GetUtcNow(), () => "", out var jobs, engine.Store.Shards, maxPayloadBytes: int.MaxValue);
            completion = invalid.Count == 0 ? jobs[0] with { BatchId = null } : null;
        }

        var (closed, stored) = await engine.Store.CloseBatchAsync(batchId, completion, batch.Generation);
        if (closed)
        {
            if (invalid.Count > 0)
            {
                // Nothing the batch's own validation let through fails here; should it, the batch still closes (else it
                // would be retried for ever), and the operator is told, once, what was not submitted and why.
                JobLog.BatchCompletionInvalid(logger, batchId, string.Join("; ", invalid.Select(e => e.Message)));
            }
            else if (completion is not null && !stored)
            {
                // Its id was free when the batch was stored and ordinary submissions may not take it, but a job stored
                // with it before those rules holds it: not this batch's completion, so it is not counted as one.
                JobLog.BatchCompletionInvalid(logger, batchId, $"a job with the id '{completion.Id}' exists already");
            }

            if (stored)
            {
                engine.Instruments.Submitted(1);
            }

            JobLog.BatchFinished(logger, batchId, view.Succeeded, view.DeadLettered, view.Cancelled, view.Total, stored ? completion!.Id : "(none)");
        }
    }

    /// <summary>
    /// One step of the sweep: the next <see cref="SweepSize"/> waiting jobs and open batches per shard, moving on through
    /// each set with a cursor (from the oldest again once it reached the end), so every one is looked at in turn however
    /// many wait.
    /// </summary>
    public async Task SweepAsync()
    {
        var waiting = await engine.Store.WaitingAsync(_waitingCursor, SweepSize);
        _waitingCursor = waiting.Count < SweepSize ? 0 : _waitingCursor + SweepSize;
        foreach (var id in waiting)
        {
            await GuardAsync(id, "sweep", () => SettleAsync(id));
        }

        var batches = await engine.Store.OpenBatchesAsync(_batchCursor, SweepSize);
        _batchCursor = batches.Count < SweepSize ? 0 : _batchCursor + SweepSize;
        foreach (var batch in batches)
        {
            await GuardAsync(batch, "sweep", () => CheckBatchAsync(batch));
        }
    }

    private async Task ApplyAsync(JobTransition? transition)
    {
        if (transition is not null && await engine.ApplyAsync(transition) == ApplyOutcome.Applied)
        {
            JobLog.DependenciesSettled(logger, transition.Job.Id, transition.To);
        }
    }

    private async Task GuardAsync(string id, string step, Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex)
        {
            JobLog.FollowUpFailed(logger, ex, id, step);
        }
    }

    /// <summary>The payload of a batch's completion job when it has none of its own.</summary>
    private sealed record BatchCompletion(string BatchId, int Total, int Succeeded, int DeadLettered, int Cancelled);
}
