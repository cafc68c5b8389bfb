using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansWorker.AspNetCore;

/// <summary>The JSON body of <c>POST /jobs</c> (and of each item of <c>POST /jobs/batch</c>).</summary>
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
}

/// <summary>A queue's rate limit in the HTTP API.</summary>
public sealed record RateLimitBody(int Limit, double PeriodSeconds);

/// <summary>The body of <c>PUT /queues/{name}</c>: the queue's settings as a whole (absent = no limit, not paused).</summary>
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
    IReadOnlyList<JobAttempt> Attempts)
{
    public static JobViewBody From(JobView v) => new(
        v.Id, v.Type, v.Queue, v.Priority, v.State, v.Attempt, v.MaxAttempts, v.Timeout.TotalSeconds, v.CreatedAt, v.RunAt, v.StartedAt, v.FinishedAt,
        v.Progress, ParseJson(v.Payload), ParseJson(v.Result), v.LastError, v.TraceId, v.CancelRequested, v.Silo, v.Interruptions, v.MaxInterruptions, v.Attempts);

    private static JsonElement? ParseJson(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
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
