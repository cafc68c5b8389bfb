using System.Globalization;
using Cronos;

namespace OrleansWorker.Execution;

/// <summary>What a due schedule does now: fire a tick (or not), and its next tick.</summary>
/// <param name="Fire">The tick to submit a job for, or null.</param>
/// <param name="Next">The tick after that (null: none left, it ended).</param>
/// <param name="Misfired">Ticks given up because the cluster missed them by more than the misfire threshold.</param>
/// <param name="SkippedForOverlap">The tick was due but skipped: the previous tick's job had not finished.</param>
internal sealed record ScheduleDecision(DateTimeOffset? Fire, DateTimeOffset? Next, int Misfired, bool SkippedForOverlap);

/// <summary>
/// The rules of recurring jobs, pure: parsing (Cronos; 5 fields, or 6 with seconds), the next tick in a time zone
/// (daylight saving as Cronos documents it: a tick in a skipped hour runs once the clocks jumped, an ambiguous one
/// runs once), what a late tick does (fired if it is late by no more than the misfire threshold; older ones are
/// misfires: <see cref="MisfirePolicy.FireOnce"/> fires the latest of them once, <see cref="MisfirePolicy.Skip"/> none),
/// overlap, and the id of a tick's job.
/// </summary>
internal static class ScheduleRules
{
    /// <summary>Ticks a misfire scan walks at most (a per-second schedule down for eleven days).</summary>
    private const int MaxScan = 1_000_000;

    public const int MaxIdLength = 100;

    /// <summary>startAt and endAt come before this (ticks near the end of year 9999 overflow in some zones).</summary>
    public static readonly DateTimeOffset LatestDate = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The id of the job a tick submits: <c>{schedule}::{tick as yyyyMMddTHHmmssZ}</c> — one job per tick, whoever fires it.</summary>
    public static string JobId(string scheduleId, DateTimeOffset tick) =>
        string.Create(CultureInfo.InvariantCulture, $"{scheduleId}::{tick.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}");

    /// <summary>The id of a job submitted by "trigger now".</summary>
    public static string TriggerJobId(string scheduleId, DateTimeOffset now) =>
        string.Create(CultureInfo.InvariantCulture, $"{scheduleId}::manual-{now.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}");

    /// <summary>
    /// Parses a schedule's cron expression of 5 fields, or 6 with seconds first. <c>H</c> in a field (Jenkins' hashed
    /// value, e.g. <c>H * * * *</c>: once an hour at a minute of the schedule's own) takes its value from the schedule's
    /// id, the same one every time, so schedules written alike spread over the hour instead of all firing at :00.
    /// </summary>
    public static CronExpression ParseCron(ScheduleDefinition schedule)
    {
        var cron = schedule.Cron ?? "";
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        var seed = Seed(schedule.Id ?? "");
        return fields switch
        {
            5 => CronExpression.Parse(cron, CronFormat.Standard, seed),
            6 => CronExpression.Parse(cron, CronFormat.IncludeSeconds, seed),
            _ => throw new CronFormatException($"A cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first); '{cron}' has {fields}."),
        };
    }

    /// <summary>A stable number from a schedule id (FNV-1a of its UTF-16 code units): the same on every silo and version.</summary>
    private static int Seed(string id)
    {
        var hash = 2166136261u;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash & int.MaxValue);
    }

    /// <summary>
    /// Whether <paramref name="id"/> is a schedule's or a batch's id: 1–<see cref="MaxIdLength"/> characters of
    /// <c>[A-Za-z0-9._-]</c>, not dots alone (a path segment: no URL could name it).
    /// </summary>
    public static bool IsWordId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= MaxIdLength && id.Trim('.').Length > 0 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>Checks a definition: id, cron, time zone, dates; every problem, with the values.</summary>
    public static List<string> Validate(ScheduleDefinition schedule)
    {
        var errors = new List<string>();
        if (!IsWordId(schedule.Id))
        {
            errors.Add($"The schedule id '{schedule.Id}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._-], not dots alone.");
        }

        try
        {
            // One that no date matches (the 30th of February) would be stored and never fire, looking like a paused one.
            if (ParseCron(schedule).GetNextOccurrence(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeZoneInfo.Utc) is null)
            {
                errors.Add($"cron '{schedule.Cron}' never fires: no date matches it.");
            }
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            errors.Add($"cron '{schedule.Cron}' is not valid: {ex.Message}");
        }

        if (!TryZone(schedule.TimeZone, out _))
        {
            errors.Add($"timeZone '{schedule.TimeZone}' is not a known IANA time zone (e.g. UTC, Europe/London, America/New_York).");
        }

        foreach (var (name, at) in new[] { ("startAt", schedule.StartAt), ("endAt", schedule.EndAt) })
        {
            // A tick is a DateTimeOffset in the zone and in UTC: one near the end of year 9999 may not exist in both.
            if (at is { } value && value >= LatestDate)
            {
                errors.Add($"{name} ({value:O}) must be before {LatestDate:yyyy-MM-dd}.");
            }
        }

        if (schedule.StartAt is { } start && schedule.EndAt is { } end && end <= start)
        {
            errors.Add($"endAt ({end:O}) must be after startAt ({start:O}).");
        }

        if (!Enum.IsDefined(schedule.Misfire))
        {
            errors.Add($"misfire must be FireOnce or Skip (was {schedule.Misfire}).");
        }

        if (!Enum.IsDefined(schedule.Overlap))
        {
            errors.Add($"overlap must be Allow or Skip (was {schedule.Overlap}).");
        }

        if (schedule.Job is null)
        {
            errors.Add("job is required.");
        }
        else if (schedule.Job.Id is not null || schedule.Job.RunAt is not null || schedule.Job.Delay is not null || schedule.Job.DependsOn is { Count: > 0 } || schedule.Job.UniqueKey is not null)
        {
            errors.Add("The job of a schedule has no id, runAt, delaySeconds, dependsOn or uniqueKey of its own: each tick's job id is derived from the schedule and the tick (use overlap Skip to avoid running two at once).");
        }

        return errors;
    }

    public static bool TryZone(string id, out TimeZoneInfo zone)
    {
        // Not FindSystemTimeZoneById: on Linux a name that is a directory of the zone database ("America") throws a
        // SecurityException, which is no answer to give a caller who sent a bad time zone.
        if (TimeZoneInfo.TryFindSystemTimeZoneById(string.IsNullOrEmpty(id) ? "UTC" : id, out var found))
        {
            zone = found;
            return true;
        }

        zone = TimeZoneInfo.Utc;
        return false;
    }

    /// <summary>The first tick strictly after <paramref name="after"/> within the schedule's start and end, or null.</summary>
    public static DateTimeOffset? NextTick(ScheduleDefinition schedule, DateTimeOffset after)
    {
        var cron = ParseCron(schedule);
        TryZone(schedule.TimeZone, out var zone);
        if (schedule.StartAt is { } start && after < start)
        {
            after = start.AddTicks(-1);
        }

        DateTimeOffset? next;
        try
        {
            next = cron.GetNextOccurrence(after, zone, inclusive: false);
        }
        catch (ArgumentOutOfRangeException)
        {
            // The next tick would lie beyond what a DateTimeOffset holds (in the zone or in UTC): there is none.
            next = null;
        }

        return next is { } n && schedule.EndAt is { } end && n > end ? null : next;
    }

    /// <summary>
    /// What a schedule whose stored next tick is <paramref name="due"/> does at <paramref name="now"/>.
    /// <paramref name="previousJob"/> is the state of the job of its last fire (for the overlap rule).
    /// </summary>
    public static ScheduleDecision Decide(ScheduleDefinition schedule, DateTimeOffset due, DateTimeOffset now, TimeSpan misfireThreshold, JobState? previousJob)
    {
        if (due > now)
        {
            return new ScheduleDecision(null, due, 0, false);
        }

        DateTimeOffset? fire = due;
        var misfired = 0;
        if (now - due > misfireThreshold)
        {
            // Missed by more than the threshold: the latest tick that is due, and how many were missed.
            var cron = ParseCron(schedule);
            TryZone(schedule.TimeZone, out var zone);
            var latest = due;
            var count = 0;
            foreach (var tick in cron.GetOccurrences(due, now, zone, fromInclusive: true, toInclusive: true))
            {
                if (schedule.EndAt is { } end && tick > end)
                {
                    break;
                }

                latest = tick;
                if (++count >= MaxScan)
                {
                    // More ticks than a scan walks: the latest one is found back from the end instead (the count of
                    // misfires, a metric, stops at the scan's length).
                    latest = LatestTick(cron, zone, latest, schedule.EndAt is { } e && e < now ? e : now);
                    break;
                }
            }

            (fire, misfired) = schedule.Misfire == MisfirePolicy.FireOnce ? ((DateTimeOffset?)latest, Math.Max(0, count - 1)) : ((DateTimeOffset?)null, count);
            var after = schedule.Misfire == MisfirePolicy.FireOnce ? latest : now;
            return Overlap(schedule, fire, NextTick(schedule, after), misfired, previousJob);
        }

        return Overlap(schedule, fire, NextTick(schedule, due), misfired, previousJob);
    }

    /// <summary>The latest tick in (<paramref name="after"/>, <paramref name="upTo"/>], searched back from its end in growing windows; <paramref name="after"/> if none.</summary>
    private static DateTimeOffset LatestTick(CronExpression cron, TimeZoneInfo zone, DateTimeOffset after, DateTimeOffset upTo)
    {
        for (var window = TimeSpan.FromMinutes(1); ; window *= 16)
        {
            var from = upTo - after > window ? upTo - window : after;
            DateTimeOffset? last = null;
            foreach (var tick in cron.GetOccurrences(from, upTo, zone, fromInclusive: false, toInclusive: true))
            {
                last = tick;
            }

            if (last is { } found)
            {
                return found;
            }

            if (from == after)
            {
                return after;
            }
        }
    }

    private static ScheduleDecision Overlap(ScheduleDefinition schedule, DateTimeOffset? fire, DateTimeOffset? next, int misfired, JobState? previousJob) =>
        fire is not null && schedule.Overlap == OverlapPolicy.Skip && previousJob is { } state && !state.IsFinished()
            ? new ScheduleDecision(null, next, misfired, SkippedForOverlap: true)
            : new ScheduleDecision(fire, next, misfired, false);
}
