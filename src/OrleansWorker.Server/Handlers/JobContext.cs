using System.Text.Json;
using Microsoft.Extensions.Logging;
using OrleansWorker.Execution;

namespace OrleansWorker.Handlers;

/// <summary>What a handler sees of the job it runs.</summary>
public sealed class JobContext
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Func<JobProgress, Task> _reportProgress;

    internal JobContext(ClaimedAttempt attempt, ILogger logger, Func<JobProgress, Task> reportProgress)
    {
        JobId = attempt.JobId;
        Type = attempt.Type;
        Queue = attempt.Queue;
        Attempt = attempt.Attempt;
        MaxAttempts = attempt.MaxAttempts;
        Payload = attempt.Payload;
        Logger = logger;
        _reportProgress = reportProgress;
    }

    public string JobId { get; }
    public string Type { get; }
    public string Queue { get; }

    /// <summary>This attempt's number, from 1.</summary>
    public int Attempt { get; }
    public int MaxAttempts { get; }

    /// <summary>The payload as JSON text; null for none.</summary>
    public string? Payload { get; }

    /// <summary>A logger whose scope carries the job id, type, attempt and trace.</summary>
    public ILogger Logger { get; }

    /// <summary>Deserialises the payload (camelCase JSON) to <typeparamref name="T"/>.</summary>
    public T? GetPayload<T>() => Payload is null ? default : JsonSerializer.Deserialize<T>(Payload, Json);

    /// <summary>Stores progress (0–100 and a message), visible in the job's view while it runs.</summary>
    public Task ReportProgressAsync(int percent, string? message = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percent, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        return _reportProgress(new JobProgress(percent, message));
    }

    /// <summary>Serialises <paramref name="value"/> as a camelCase JSON result.</summary>
    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value, Json);
}
