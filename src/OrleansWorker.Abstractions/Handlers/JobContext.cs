using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;

namespace OrleansWorker;

/// <summary>What a handler sees of the job it runs. The engine provides it; tests may derive their own.</summary>
public abstract class JobContext
{
    /// <summary>The job's id.</summary>
    public abstract string JobId { get; }

    /// <summary>The job type (the name its handler is registered under).</summary>
    public abstract string JobType { get; }

    /// <summary>The job's queue.</summary>
    public abstract string Queue { get; }

    /// <summary>This attempt's number, from 1. Interruptions (the silo vanished) do not use one up.</summary>
    public abstract int Attempt { get; }

    /// <summary>Attempts before the job is dead-lettered.</summary>
    public abstract int MaxAttempts { get; }

    /// <summary>The payload as JSON text; null for none.</summary>
    public abstract string? Payload { get; }

    /// <summary>The W3C trace id of the job's trace (the submitter's), if any.</summary>
    public abstract string? TraceId { get; }

    /// <summary>A logger whose scope carries the job id, type, attempt and trace id.</summary>
    public abstract ILogger Logger { get; }

    /// <summary>Stores progress (0–100 and a message), visible in the job's view while it runs.</summary>
    /// <param name="percent">0 to 100.</param>
    /// <param name="message">What is happening, for people.</param>
    /// <param name="cancellationToken">Cancels the write (not the job).</param>
    public abstract Task ReportProgressAsync(int percent, string? message = null, CancellationToken cancellationToken = default);

    /// <summary>The JSON settings payloads and results use: <see cref="JsonSerializerDefaults.Web"/> (camelCase, case-insensitive).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };
        options.MakeReadOnly();
        return options;
    }
}
