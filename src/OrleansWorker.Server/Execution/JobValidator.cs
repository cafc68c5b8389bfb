using System.Text;
using System.Text.Json;
using OrleansWorker.Hosting;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>Validates submissions and turns them into <see cref="NewJob"/> records.</summary>
internal static class JobValidator
{
    public const int MaxIdLength = 200;
    public const int MinPriority = -1000;
    public const int MaxPriority = 1000;
    public const int MaxAttemptsLimit = 100;
    public const string DefaultQueue = "default";

    /// <summary>Whether <paramref name="value"/> is 1–200 characters of <c>[A-Za-z0-9._:-]</c>.</summary>
    public static bool IsValidName(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxIdLength)
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public static IReadOnlyList<JobValidationError> Validate(
        IReadOnlyList<JobRequest> requests,
        WorkerOptions options,
        Func<string, bool> isKnownType,
        IReadOnlyList<string> knownTypes,
        DateTimeOffset now,
        Func<string> newId,
        out List<NewJob> jobs)
    {
        var errors = new List<JobValidationError>();
        jobs = new List<NewJob>(requests.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            var before = errors.Count;
            void Fail(string field, string code, string message) => errors.Add(new JobValidationError(i, field, code, message));

            if (r is null)
            {
                Fail("", "missing", "The job request is null.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(r.Type))
            {
                Fail("type", "required", "The job type is required.");
            }
            else if (!isKnownType(r.Type))
            {
                Fail("type", "unknown_type", $"No handler is registered for job type '{Truncate(r.Type)}'; known types: {string.Join(", ", knownTypes)}.");
            }

            if (r.Id is not null && !IsValidName(r.Id))
            {
                Fail("id", "invalid_id", $"The id '{Truncate(r.Id)}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._:-].");
            }
            else if (r.Id is not null && !seen.Add(r.Id))
            {
                Fail("id", "duplicate_id", $"The id '{r.Id}' appears more than once in the batch.");
            }

            if (r.Queue is not null && !IsValidName(r.Queue))
            {
                Fail("queue", "invalid_queue", $"The queue '{Truncate(r.Queue)}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._:-].");
            }

            if (r.Priority is < MinPriority or > MaxPriority)
            {
                Fail("priority", "out_of_range", $"priority must be {MinPriority}..{MaxPriority} (was {r.Priority}).");
            }

            if (r.MaxAttempts is { } attempts && attempts is < 1 or > MaxAttemptsLimit)
            {
                Fail("maxAttempts", "out_of_range", $"maxAttempts must be 1..{MaxAttemptsLimit} (was {attempts}).");
            }

            if (r.Timeout is { } timeout && (timeout <= TimeSpan.Zero || timeout > TimeSpan.FromDays(1)))
            {
                Fail("timeoutSeconds", "out_of_range", $"timeoutSeconds must be more than 0 and at most 86400 (was {timeout.TotalSeconds}).");
            }

            if (r.Delay is { } delay && (delay < TimeSpan.Zero || delay > TimeSpan.FromDays(365)))
            {
                Fail("delaySeconds", "out_of_range", $"delaySeconds must be 0..31536000 (was {delay.TotalSeconds}).");
            }

            if (r.Delay is not null && r.RunAt is not null)
            {
                Fail("runAt", "conflict", "Give runAt or delaySeconds, not both.");
            }

            if (r.RunAt is { } runAt && runAt > now.AddDays(365))
            {
                Fail("runAt", "out_of_range", $"runAt must be within a year (was {runAt:O}).");
            }

            if (r.Payload is not null)
            {
                var bytes = Encoding.UTF8.GetByteCount(r.Payload);
                if (bytes > options.MaxPayloadBytes)
                {
                    Fail("payload", "payload_too_large", $"The payload is {bytes} bytes; the limit is {options.MaxPayloadBytes}.");
                }
                else if (!IsJson(r.Payload))
                {
                    Fail("payload", "invalid_json", "The payload is not valid JSON.");
                }
            }

            if (errors.Count != before)
            {
                continue;
            }

            DateTimeOffset? due = r.RunAt ?? (r.Delay is { } d && d > TimeSpan.Zero ? now + d : null);
            if (due <= now)
            {
                due = null;
            }

            jobs.Add(new NewJob(
                Id: r.Id ?? newId(),
                Type: r.Type,
                Queue: r.Queue ?? DefaultQueue,
                Priority: r.Priority,
                Payload: r.Payload,
                MaxAttempts: r.MaxAttempts ?? options.DefaultMaxAttempts,
                Timeout: r.Timeout ?? options.DefaultTimeout,
                RunAt: due,
                CreatedAt: now,
                TraceParent: r.TraceParent is { Length: <= 128 } tp ? tp : null)
            {
                MaxInterruptions = options.MaxInterruptions,
            });
        }

        if (errors.Count > 0)
        {
            jobs.Clear();
        }

        return errors;
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");
}
