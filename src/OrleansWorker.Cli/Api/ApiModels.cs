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

/// <summary>System.Text.Json source generation for the API types: no reflection, camelCase as the server writes.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(JobPage))]
[JsonSerializable(typeof(SubmitJobRequest))]
[JsonSerializable(typeof(HealthReport))]
internal sealed partial class ApiJson : JsonSerializerContext;
