using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansWorker.Cli.Api;

// The tool's own view of the worker's JSON (src/OrleansWorker.ServiceDefaults/JobApiContracts.cs), deliberately
// loose: states and outcomes stay strings and every member has a default, so a server that gains a state or a field
// does not break an older tool. --json output never goes through these types: it prints what the server sent.

/// <summary>A job as <c>GET /jobs/{id}</c> returns it.</summary>
internal sealed record JobView
{
    public string Id { get; init; } = "";
    public string Type { get; init; } = "";
    public string Queue { get; init; } = "";
    public int Priority { get; init; }
    public string State { get; init; } = "";
    public int Attempt { get; init; }
    public int MaxAttempts { get; init; }
    public double TimeoutSeconds { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
    public DateTimeOffset? RunAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public JobProgressView? Progress { get; init; }
    public JsonElement? Payload { get; init; }
    public JsonElement? Result { get; init; }
    public JobErrorView? LastError { get; init; }
    public string? TraceId { get; init; }
    public bool CancelRequested { get; init; }
    public string? Silo { get; init; }
    public int Interruptions { get; init; }
    public int MaxInterruptions { get; init; }
    public IReadOnlyList<JobAttemptView> Attempts { get; init; } = [];
    public string? ScheduleId { get; init; }
    public string? BatchId { get; init; }
    public IReadOnlyList<string> DependsOn { get; init; } = [];
    public string? UniqueKey { get; init; }

    /// <summary>Whether no attempt will start without a retry (Succeeded, DeadLettered, Cancelled).</summary>
    [JsonIgnore]
    public bool IsFinished => JobStates.IsFinished(State);
}

/// <summary>Progress a running handler reported.</summary>
internal sealed record JobProgressView(int Percent, string? Message);

/// <summary>What went wrong in an attempt.</summary>
internal sealed record JobErrorView(string? Type, string? Message);

/// <summary>One attempt of a job.</summary>
internal sealed record JobAttemptView
{
    public int Number { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public string? Silo { get; init; }
    public string? Outcome { get; init; }
    public JobErrorView? Error { get; init; }
}

/// <summary>A page of <c>GET /jobs</c>.</summary>
internal sealed record JobPage(IReadOnlyList<JobView> Items, string? NextCursor);

/// <summary>The body of <c>POST /jobs</c>; unset members are left out so the server applies its defaults.</summary>
internal sealed record SubmitJobRequest
{
    public required string Type { get; init; }
    public JsonElement? Payload { get; init; }
    public string? Id { get; init; }
    public string? Queue { get; init; }
    public int? Priority { get; init; }
    public int? MaxAttempts { get; init; }
    public double? TimeoutSeconds { get; init; }
    public DateTimeOffset? RunAt { get; init; }
    public double? DelaySeconds { get; init; }
    public string? UniqueKey { get; init; }
    public double? UniqueForSeconds { get; init; }
    public IReadOnlyList<string>? DependsOn { get; init; }
    public bool? ContinueOnDependencyFailure { get; init; }
}

/// <summary>Filters of <c>GET /jobs</c>.</summary>
internal sealed record JobListQuery(string? State, string? Queue, string? Type, int? Limit, string? Cursor);

/// <summary>The answer of <c>GET /health</c>.</summary>
internal sealed record HealthReport
{
    public string Status { get; init; } = "";
    public HealthSilo? Silo { get; init; }
    public HealthCluster? Cluster { get; init; }
    public IReadOnlyDictionary<string, HealthCheck> Checks { get; init; } = new Dictionary<string, HealthCheck>();
}

/// <summary>One silo in a health report.</summary>
internal sealed record HealthSilo(string Address, string Status);

/// <summary>The cluster as the answering process sees it.</summary>
internal sealed record HealthCluster(int ActiveSilos, IReadOnlyList<HealthSilo> Silos);

/// <summary>One dependency check.</summary>
internal sealed record HealthCheck(string Status, double DurationMs, string? Error);

/// <summary>The job states the server knows, and which of them are final.</summary>
internal static class JobStates
{
    public const string Succeeded = "Succeeded";
    public const string DeadLettered = "DeadLettered";
    public const string Cancelled = "Cancelled";

    public static bool IsFinished(string state) => state is Succeeded or DeadLettered or Cancelled;
}

/// <summary>The states <c>--state</c> accepts (the server's <c>JobState</c>); parsed case-insensitively.</summary>
internal enum JobStateFilter
{
    Queued,
    Scheduled,
    Running,
    Succeeded,
    DeadLettered,
    Cancelled,
    Waiting,
}

/// <summary>A queue as <c>GET /queues/{name}</c> returns it: its settings and its jobs by state.</summary>
internal sealed record QueueView
{
    public string Name { get; init; } = "";
    public bool Paused { get; init; }
    public DateTimeOffset? PausedUntil { get; init; }
    public int? MaxConcurrency { get; init; }
    public RateLimitView? RateLimit { get; init; }
    public IReadOnlyDictionary<string, long> States { get; init; } = new Dictionary<string, long>();
}

/// <summary>At most <see cref="Limit"/> starts in any <see cref="PeriodSeconds"/> window.</summary>
internal sealed record RateLimitView(int Limit, double PeriodSeconds);

/// <summary>The body of <c>PUT /queues/{name}</c>: the settings as a whole, an absent member clears its setting.</summary>
internal sealed record QueueSettingsRequest
{
    public bool? Paused { get; init; }
    public int? MaxConcurrency { get; init; }
    public RateLimitView? RateLimit { get; init; }
}

/// <summary>A schedule as <c>GET /schedules/{id}</c> returns it.</summary>
internal sealed record ScheduleView
{
    public string Id { get; init; } = "";
    public string Cron { get; init; } = "";
    public string TimeZone { get; init; } = "";
    public ScheduleJobView Job { get; init; } = new();
    public bool Paused { get; init; }
    public string Misfire { get; init; } = "";
    public string Overlap { get; init; } = "";
    public DateTimeOffset? StartAt { get; init; }
    public DateTimeOffset? EndAt { get; init; }
    public ScheduleFireView? LastFire { get; init; }
    public DateTimeOffset? NextFire { get; init; }
}

/// <summary>The job template of a schedule.</summary>
internal sealed record ScheduleJobView
{
    public string? Type { get; init; }
    public JsonElement? Payload { get; init; }
    public string? Queue { get; init; }
    public int? Priority { get; init; }
    public int? MaxAttempts { get; init; }
    public double? TimeoutSeconds { get; init; }
    public string? UniqueKey { get; init; }
}

/// <summary>The last tick a schedule fired, its job and that job's state (absent once the job was deleted).</summary>
internal sealed record ScheduleFireView(DateTimeOffset At, string? JobId, string? State);

/// <summary>The body of <c>PUT /schedules/{id}</c>: a recurring job as a whole.</summary>
internal sealed record ScheduleRequest
{
    public required string Cron { get; init; }
    public string? TimeZone { get; init; }
    public required ScheduleJobRequest Job { get; init; }
    public bool? Paused { get; init; }
    public string? Misfire { get; init; }
    public string? Overlap { get; init; }
    public DateTimeOffset? StartAt { get; init; }
    public DateTimeOffset? EndAt { get; init; }
}

/// <summary>The job template of <c>PUT /schedules/{id}</c>.</summary>
internal sealed record ScheduleJobRequest
{
    public required string Type { get; init; }
    public JsonElement? Payload { get; init; }
    public string? Queue { get; init; }
    public int? Priority { get; init; }
    public int? MaxAttempts { get; init; }
    public double? TimeoutSeconds { get; init; }
}

/// <summary>A batch as <c>GET /batches/{id}</c> returns it.</summary>
internal sealed record BatchView
{
    public string Id { get; init; } = "";
    public int Total { get; init; }

    /// <summary>Members that finished, by final state (Succeeded, DeadLettered, Cancelled).</summary>
    public IReadOnlyDictionary<string, int> States { get; init; } = new Dictionary<string, int>();
    public int Pending { get; init; }
    public bool Finished { get; init; }
    public string? CompletionJobId { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>Members that ended in <paramref name="state"/>.</summary>
    public int Count(string state) => States.TryGetValue(state, out var n) ? n : 0;

    /// <summary>Members that ended DeadLettered or Cancelled.</summary>
    [JsonIgnore]
    public int Failed => Count(JobStates.DeadLettered) + Count(JobStates.Cancelled);
}

/// <summary>The answer of <c>POST /batches</c>: the batch and each member as submitted.</summary>
internal sealed record BatchCreatedView(BatchView? Batch, IReadOnlyList<BatchItemView> Jobs);

/// <summary>One member as submitted: its id, its state and whether this submission created it.</summary>
internal sealed record BatchItemView(string Id, string State, bool Created);

/// <summary>The body of <c>POST /batches</c>; the members are passed as the file has them, so every job field goes through.</summary>
internal sealed record BatchRequest
{
    public string? Id { get; init; }
    public required JsonElement Jobs { get; init; }
    public JsonElement? Completion { get; init; }
}

/// <summary>System.Text.Json source generation for the API types: no reflection, camelCase as the server writes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(JobPage))]
[JsonSerializable(typeof(SubmitJobRequest))]
[JsonSerializable(typeof(HealthReport))]
[JsonSerializable(typeof(List<QueueView>))]
[JsonSerializable(typeof(QueueView))]
[JsonSerializable(typeof(QueueSettingsRequest))]
[JsonSerializable(typeof(List<ScheduleView>))]
[JsonSerializable(typeof(ScheduleView))]
[JsonSerializable(typeof(ScheduleRequest))]
[JsonSerializable(typeof(BatchView))]
[JsonSerializable(typeof(BatchCreatedView))]
[JsonSerializable(typeof(BatchRequest))]
internal sealed partial class ApiJson : JsonSerializerContext;
