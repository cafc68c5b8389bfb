using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansWorker.AspNetCore;

/// <summary>The JSON body of <c>POST /jobs</c> (and of each item of <c>POST /jobs/batch</c>).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)] // a misspelt property is an error, not silently dropped
public sealed class JobRequestBody
{
    public string? Type { get; set; }
    public JsonElement? Payload { get; set; }
    public string? Id { get; set; }
    public string? Queue { get; set; }
    public int? Priority { get; set; }
    public int? MaxAttempts { get; set; }
    public double? TimeoutSeconds { get; set; }
    public DateTimeOffset? RunAt { get; set; }
    public double? DelaySeconds { get; set; }
    public string? UniqueKey { get; set; }
    public double? UniqueForSeconds { get; set; }
    public IReadOnlyList<string>? DependsOn { get; set; }
    public bool? ContinueOnDependencyFailure { get; set; }

    /// <summary>The body of a request (for showing a schedule's job template).</summary>
    public static JobRequestBody From(JobRequest r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new JobRequestBody
        {
            Type = r.Type, Payload = JobViewBody.ParseJson(r.Payload), Id = r.Id, Queue = r.Queue, Priority = r.Priority, MaxAttempts = r.MaxAttempts,
            TimeoutSeconds = r.Timeout?.TotalSeconds, UniqueKey = r.UniqueKey, UniqueForSeconds = r.UniqueFor?.TotalSeconds,
        };
    }
}

/// <summary>The body of <c>PUT /schedules/{id}</c>: a recurring job as a whole.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)] // a misspelt property is an error, not silently dropped
public sealed class ScheduleBodyIn
{
    /// <summary>5 fields (minute hour day month weekday) or 6 with seconds first.</summary>
    public string? Cron { get; set; }

    /// <summary>IANA time zone; default UTC.</summary>
    public string? TimeZone { get; set; }

    /// <summary>The job each tick submits (no id, runAt, delaySeconds or dependsOn).</summary>
    public JobRequestBody? Job { get; set; }

    public bool? Paused { get; set; }
    public MisfirePolicy? Misfire { get; set; }
    public OverlapPolicy? Overlap { get; set; }
    public DateTimeOffset? StartAt { get; set; }
    public DateTimeOffset? EndAt { get; set; }
}

/// <summary>The last tick a schedule fired and its job.</summary>
public sealed record ScheduleFireBody(DateTimeOffset At, string? JobId, JobState? State);

/// <summary>A recurring job in the HTTP API.</summary>
public sealed record ScheduleBody(
    string Id,
    string Cron,
    string TimeZone,
    JobRequestBody Job,
    bool Paused,
    MisfirePolicy Misfire,
    OverlapPolicy Overlap,
    DateTimeOffset? StartAt,
    DateTimeOffset? EndAt,
    ScheduleFireBody? LastFire,
    DateTimeOffset? NextFire)
{
    public static ScheduleBody From(ScheduleView v)
    {
        ArgumentNullException.ThrowIfNull(v);
        var d = v.Definition;
        return new(d.Id, d.Cron, d.TimeZone, JobRequestBody.From(d.Job), d.Paused, d.Misfire, d.Overlap, d.StartAt, d.EndAt,
            v.LastFire is { } at ? new ScheduleFireBody(at, v.LastJobId, v.LastJobState) : null, v.NextFire);
    }
}

/// <summary>The body of <c>POST /batches</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)] // a misspelt property is an error, not silently dropped
public sealed class BatchBodyIn
{
    /// <summary>The batch id (1–100 characters of [A-Za-z0-9._-]); generated when absent.</summary>
    public string? Id { get; set; }

    public List<JobRequestBody?>? Jobs { get; set; }

    /// <summary>Runs once every member finished; its payload defaults to {batchId, total, succeeded, deadLettered, cancelled}.</summary>
    public JobRequestBody? Completion { get; set; }
}

/// <summary>A batch in the HTTP API.</summary>
public sealed record BatchBody(string Id, int Total, IReadOnlyDictionary<JobState, int> States, int Pending, bool Finished, string? CompletionJobId, DateTimeOffset CreatedAt)
{
    public static BatchBody From(BatchView b)
    {
        ArgumentNullException.ThrowIfNull(b);
        var states = new Dictionary<JobState, int> { [JobState.Succeeded] = b.Succeeded, [JobState.DeadLettered] = b.DeadLettered, [JobState.Cancelled] = b.Cancelled };
        return new(b.Id, b.Total, states, Math.Max(0, b.Total - b.Succeeded - b.DeadLettered - b.Cancelled), b.Finished, b.CompletionJobId, b.CreatedAt);
    }
}

/// <summary>The answer to <c>POST /batches</c>.</summary>
public sealed record BatchCreatedBody(BatchBody? Batch, IReadOnlyList<BatchItemBody> Jobs);

/// <summary>A queue's rate limit in the HTTP API.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)] // a misspelt property is an error, not silently dropped
public sealed record RateLimitBody(int Limit, double PeriodSeconds);

/// <summary>The body of <c>PUT /queues/{name}</c>: the queue's settings as a whole (absent = no limit, not paused).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)] // a misspelt property is an error, not silently dropped
public sealed class QueueSettingsBody
{
    public bool? Paused { get; set; }
    public int? MaxConcurrency { get; set; }
    public RateLimitBody? RateLimit { get; set; }
}

/// <summary>A queue in the HTTP API.</summary>
public sealed record QueueBody(string Name, bool Paused, DateTimeOffset? PausedUntil, int? MaxConcurrency, RateLimitBody? RateLimit, IReadOnlyDictionary<JobState, long> States)
{
    public static QueueBody From(QueueView q) => new(q.Name, q.Settings.Paused, q.Settings.PausedUntil, q.Settings.MaxConcurrency,
        q.Settings.RateLimit is { } r ? new RateLimitBody(r.Limit, r.Period.TotalSeconds) : null, q.States);
}

/// <summary>The JSON view of a job returned by the HTTP API.</summary>
public sealed record JobViewBody(
    string Id,
    string Type,
    string Queue,
    int Priority,
    JobState State,
    int Attempt,
    int MaxAttempts,
    double TimeoutSeconds,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RunAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    JobProgress? Progress,
    JsonElement? Payload,
    JsonElement? Result,
    JobError? LastError,
    string? TraceId,
    bool CancelRequested,
    string? Silo,
    int Interruptions,
    int MaxInterruptions,
    IReadOnlyList<JobAttempt> Attempts,
    string? ScheduleId,
    string? BatchId,
    IReadOnlyList<string> DependsOn,
    string? UniqueKey)
{
    public static JobViewBody From(JobView v) => new(
        v.Id, v.Type, v.Queue, v.Priority, v.State, v.Attempt, v.MaxAttempts, v.Timeout.TotalSeconds, v.CreatedAt, v.RunAt, v.StartedAt, v.FinishedAt,
        v.Progress, ParseJson(v.Payload), ParseJson(v.Result), v.LastError, v.TraceId, v.CancelRequested, v.Silo, v.Interruptions, v.MaxInterruptions, v.Attempts,
        v.ScheduleId, v.BatchId, v.DependsOn, v.UniqueKey);

    /// <summary>
    /// Stored JSON text as a value to write back; text that no JSON writer could write (stored before payloads and
    /// results were checked for it: an escaped lone surrogate, or a raw handler's result that was not JSON) is given
    /// as a JSON string holding it, rather than failing every read of the job.
    /// </summary>
    internal static JsonElement? ParseJson(string? json)
    {
        if (json is null)
        {
            return null;
        }

        // Only text with a \u escape can hold what the syntax check lets through: one pass for the rest.
        if (json.Contains("\\u", StringComparison.Ordinal) && !JsonText.IsValid(json))
        {
            return JsonSerializer.SerializeToElement(json);
        }

        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(json);
        }
    }
}

/// <summary>One item of the answer to <c>POST /jobs/batch</c>.</summary>
public sealed record BatchItemBody(string Id, JobState State, bool Created);

/// <summary>A page of jobs.</summary>
public sealed record JobPageBody(IReadOnlyList<JobViewBody> Items, string? NextCursor);

/// <summary>JSON settings of the HTTP API: camelCase, enums as strings.</summary>
public static class JobJson
{
    /// <summary>The API's serializer options.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Applies the API's settings to <paramref name="options"/> (for hosts that want the same globally).</summary>
    public static void Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.PropertyNameCaseInsensitive = true;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Converters.Add(new JsonStringEnumConverter());
    }

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Configure(options);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
