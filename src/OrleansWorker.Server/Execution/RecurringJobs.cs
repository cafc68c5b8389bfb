using Microsoft.Extensions.Logging;
using OrleansWorker.Handlers;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// Recurring jobs: their definitions in the store, and the firing of due ticks. Every silo fires; a tick's job has a
/// fixed id (<c>{schedule}::{tick}</c>) and is submitted in the same atomic step as the schedule's move to its next
/// tick, guarded by the schedule's token — so a tick yields exactly one job whichever silos race for it, and a silo
/// that dies mid-way leaves the tick to the next one.
/// </summary>
internal sealed class RecurringJobs(JobEngine engine, JobHandlerRegistry handlers, ILogger<RecurringJobs> logger)
{
    /// <summary>Schedules one pass fires at most, per shard.</summary>
    private const int FireBatch = 200;

    /// <summary>Creates or replaces a schedule. <paramref name="keepPaused"/>: a schedule that exists keeps its paused state (code-defined ones).</summary>
    public async Task<ScheduleResult> PutAsync(ScheduleDefinition definition, bool keepPaused = false)
    {
        var errors = Validate(definition);
        if (errors.Count > 0)
        {
            return new ScheduleResult(JobCommandStatus.Invalid, null, errors);
        }

        for (var attempt = 0; ; attempt++)
        {
            var now = engine.Time.GetUtcNow();
            var stored = await engine.Store.ScheduleAsync(definition.Id);
            var next = definition;
            if (keepPaused && stored is not null)
            {
                next = next with { Paused = stored.Definition.Paused };
            }

            if (stored is not null && next == stored.Definition)
            {
                return new ScheduleResult(JobCommandStatus.Ok, await ViewAsync(stored), []);
            }

            // Same timing and still active: keep the stored next tick (a due tick is not skipped by an edit).
            var sameTiming = stored is { Next: not null } && !stored.Definition.Paused && !next.Paused
                && stored.Definition.Cron == next.Cron && stored.Definition.TimeZone == next.TimeZone
                && stored.Definition.StartAt == next.StartAt && stored.Definition.EndAt == next.EndAt;
            var nextTick = next.Paused ? null : sameTiming ? stored!.Next : ScheduleRules.NextTick(next, now);
            var (written, _) = await engine.Store.WriteScheduleAsync(next, stored?.Token ?? "", nextTick, stored?.Created ?? now);
            if (written)
            {
                JobLog.ScheduleChanged(logger, next.Id, stored is null ? "created" : "updated", next.Cron, next.TimeZone, nextTick);
                return new ScheduleResult(JobCommandStatus.Ok, await GetAsync(next.Id), []);
            }

            if (attempt == 4)
            {
                throw new JobServiceUnavailableException($"Schedule {definition.Id} kept changing under the update; try again.");
            }
        }
    }

    /// <summary>Pause, resume, trigger now, or delete.</summary>
    public async Task<ScheduleResult> CommandAsync(string id, ScheduleCommand command)
    {
        for (var attempt = 0; ; attempt++)
        {
            var now = engine.Time.GetUtcNow();
            if (await engine.Store.ScheduleAsync(id) is not { } stored)
            {
                return new ScheduleResult(JobCommandStatus.NotFound, null, [$"No schedule has the id '{id}'."]);
            }

            var definition = stored.Definition;
            bool written;
            switch (command)
            {
                case ScheduleCommand.Pause:
                    (written, _) = await engine.Store.WriteScheduleAsync(definition with { Paused = true }, stored.Token, null, stored.Created);
                    break;
                case ScheduleCommand.Resume:
                    if (!definition.Paused)
                    {
                        return new ScheduleResult(JobCommandStatus.Ok, await ViewAsync(stored), []); // not paused: its next tick stays
                    }

                    var resumed = definition with { Paused = false };
                    (written, _) = await engine.Store.WriteScheduleAsync(resumed, stored.Token, ScheduleRules.NextTick(resumed, now), stored.Created);
                    break;
                case ScheduleCommand.Trigger:
                    if (!TryTickJob(definition, ScheduleRules.TriggerJobId(id, now), now, out var job, out var invalid))
                    {
                        return new ScheduleResult(JobCommandStatus.Invalid, await GetAsync(id), [$"The schedule's job is not valid: {invalid}"]);
                    }

                    bool created;
                    (written, created) = await engine.Store.WriteScheduleAsync(definition, stored.Token, stored.Next, stored.Created, job, lastFire: now);
                    if (created)
                    {
                        engine.Instruments.Submitted(1);
                        JobLog.ScheduleFired(logger, id, now, job.Id);
                    }

                    break;
                case ScheduleCommand.Delete:
                    if (await engine.Store.DeleteScheduleAsync(id, stored.Token))
                    {
                        JobLog.ScheduleChanged(logger, id, "deleted", definition.Cron, definition.TimeZone, null);
                        return new ScheduleResult(JobCommandStatus.Ok, null, []);
                    }

                    written = false;
                    break;
                default:
                    return new ScheduleResult(JobCommandStatus.Invalid, null, [$"Unknown command {command}."]);
            }

            if (written)
            {
                if (command is ScheduleCommand.Pause or ScheduleCommand.Resume)
                {
                    JobLog.ScheduleChanged(logger, id, command == ScheduleCommand.Pause ? "paused" : "resumed", definition.Cron, definition.TimeZone, null);
                }

                return new ScheduleResult(JobCommandStatus.Ok, await GetAsync(id), []);
            }

            if (attempt == 4)
            {
                throw new JobServiceUnavailableException($"Schedule {id} kept changing under the command; try again.");
            }
        }
    }

    public async Task<ScheduleView?> GetAsync(string id) => await engine.Store.ScheduleAsync(id) is { } stored ? await ViewAsync(stored) : null;

    /// <summary>Every schedule, in creation order.</summary>
    public async Task<IReadOnlyList<ScheduleView>> ListAsync()
    {
        var ids = await engine.Store.ScheduleIdsAsync();
        var stored = (await engine.Store.SchedulesAsync(ids)).OfType<JobStore.StoredSchedule>().ToList();
        var last = await engine.Store.LoadAsync(stored.Select(s => s.LastJobId ?? "").ToList());
        return stored.Select((s, i) => View(s, last[i]?.State)).ToList();
    }

    /// <summary>Fires every due tick; returns when the next schedule is due (null: none is).</summary>
    public async Task<DateTimeOffset?> FireDueAsync()
    {
        for (var round = 0; ; round++)
        {
            var now = engine.Time.GetUtcNow();
            var (due, next) = await engine.Store.DueSchedulesAsync(now, FireBatch);
            if (due.Count == 0 || round == 100)
            {
                return next;
            }

            var stored = await engine.Store.SchedulesAsync(due);
            var last = await engine.Store.LoadAsync(stored.Select(s => s?.LastJobId ?? "").ToList());
            for (var i = 0; i < due.Count; i++)
            {
                if (stored[i] is { } schedule)
                {
                    try
                    {
                        await FireAsync(schedule, last[i]?.State, now);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException && !StoreFailures.IsUnavailable(ex))
                    {
                        // One broken schedule must not hold back the others; the store being down stops the pass.
                        JobLog.ScheduleFailed(logger, ex, schedule.Definition.Id);
                    }
                }
            }
        }
    }

    /// <summary>Creates or updates the schedules defined in code, keeping an operator's pause.</summary>
    public async Task EnsureAsync(IEnumerable<ScheduleDefinition> definitions)
    {
        foreach (var definition in definitions)
        {
            var result = await PutAsync(definition, keepPaused: true);
            if (result.Status != JobCommandStatus.Ok)
            {
                throw new InvalidOperationException($"Recurring job '{definition.Id}' is not valid: {string.Join(" ", result.Errors)}");
            }
        }
    }

    /// <summary>Every problem of a definition: the schedule's own, and its job's (as a submission would see it).</summary>
    public List<string> Validate(ScheduleDefinition definition)
    {
        var errors = ScheduleRules.Validate(definition);
        if (definition.Job is null)
        {
            return errors;
        }

        var jobErrors = JobValidator.Validate([definition.Job with { Id = ScheduleRules.JobId("x", engine.Time.GetUtcNow()) }], engine.Options,
            handlers.Contains, handlers.Types, engine.Time.GetUtcNow(), () => "", out _);
        errors.AddRange(jobErrors.Where(e => e.Field != "id").Select(e => $"job.{e.Field}: {e.Message}"));
        return errors;
    }

    private async Task FireAsync(JobStore.StoredSchedule schedule, JobState? previous, DateTimeOffset now)
    {
        var definition = schedule.Definition;
        if (schedule.Next is not { } due || due > now)
        {
            return;
        }

        var decision = ScheduleRules.Decide(definition, due, now, engine.Options.ScheduleMisfireThreshold, previous);
        NewJob? job = null;
        if (decision.Fire is { } tick && !TryTickJob(definition, ScheduleRules.JobId(definition.Id, tick), now, out job, out var error))
        {
            // The stored template no longer passes (e.g. MaxPayloadBytes was lowered): the tick is skipped, not retried forever.
            JobLog.ScheduleTemplateInvalid(logger, definition.Id, tick, error);
            engine.Instruments.ScheduleSkipped(definition.Id);
            decision = decision with { Fire = null };
        }

        var (written, created) = await engine.Store.WriteScheduleAsync(definition, schedule.Token, decision.Next, schedule.Created, job, decision.Fire);
        if (!written)
        {
            return; // another silo fired it
        }

        if (decision.Misfired > 0)
        {
            engine.Instruments.ScheduleMisfired(definition.Id, decision.Misfired);
            JobLog.ScheduleMisfired(logger, definition.Id, decision.Misfired, definition.Misfire);
        }

        if (decision.SkippedForOverlap)
        {
            engine.Instruments.ScheduleSkipped(definition.Id);
            JobLog.ScheduleSkipped(logger, definition.Id, due, schedule.LastJobId ?? "", previous ?? JobState.Running);
        }

        if (created && job is not null)
        {
            engine.Instruments.ScheduleFired(definition.Id);
            engine.Instruments.Submitted(1);
            JobLog.ScheduleFired(logger, definition.Id, decision.Fire!.Value, job.Id);
        }
    }

    /// <summary>The job of a tick, from the schedule's template (its type need not be known here: an unknown one dead-letters with the reason).</summary>
    private bool TryTickJob(ScheduleDefinition definition, string id, DateTimeOffset now, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NewJob? job, out string error)
    {
        var errors = JobValidator.Validate([definition.Job with { Id = id }], engine.Options, _ => true, [], now, () => id, out var jobs);
        if (errors.Count > 0)
        {
            (job, error) = (null, errors[0].Message);
            return false;
        }

        (job, error) = (jobs[0] with { ScheduleId = definition.Id, Seq = engine.Sequence.Next(1) }, "");
        return true;
    }

    private async Task<ScheduleView> ViewAsync(JobStore.StoredSchedule stored) =>
        View(stored, stored.LastJobId is { } last ? (await engine.Store.LoadAsync(last))?.State : null);

    private static ScheduleView View(JobStore.StoredSchedule s, JobState? lastState) => new()
    {
        Definition = s.Definition,
        LastFire = s.Last,
        LastJobId = s.LastJobId,
        LastJobState = lastState,
        NextFire = s.Next,
    };
}
