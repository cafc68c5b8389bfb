using System.Globalization;
using System.Text.Json;

namespace OrleansWorker.Storage;

/// <summary>Keyset cursor for listings: the sort key (score) and member of the last item of the previous page.</summary>
internal static class ListCursor
{
    public static string Format(double score, string member) => string.Create(CultureInfo.InvariantCulture, $"{score:R}~{member}");

    public static (double Score, string Member)? Parse(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        var split = cursor.IndexOf('~', StringComparison.Ordinal);
        // Only finite scores: a store refuses NaN as a range bound (Redis with an error that reads as an outage).
        return split > 0 && double.TryParse(cursor.AsSpan(0, split), NumberStyles.Float, CultureInfo.InvariantCulture, out var score) && double.IsFinite(score)
            ? (score, cursor[(split + 1)..])
            : throw new FormatException($"The cursor '{cursor}' is not one this server returned.");
    }
}

/// <summary>
/// The cursor of a listing without a state: the part it was in (see <see cref="JobListing"/>), then that part's own
/// cursor (<see cref="ListCursor"/>), empty at the part's start.
/// </summary>
internal static class PartCursor
{
    public static string Format(int part, string? inner) => string.Create(CultureInfo.InvariantCulture, $"{part}|{inner}");

    public static (int Part, (double Score, string Member)? Inner) Parse(string? cursor, int parts)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return (0, null);
        }

        var split = cursor.IndexOf('|', StringComparison.Ordinal);
        return split > 0 && int.TryParse(cursor.AsSpan(0, split), NumberStyles.None, CultureInfo.InvariantCulture, out var part) && part < parts
            ? (part, ListCursor.Parse(cursor[(split + 1)..]))
            : throw new FormatException($"The cursor '{cursor}' is not one this server returned.");
    }
}

/// <summary>W3C trace context helpers.</summary>
internal static class TraceContext
{
    /// <summary>The trace id of a <c>traceparent</c> (<c>00-{trace-id}-{span-id}-{flags}</c>), or null.</summary>
    public static string? TraceIdOf(string? traceParent) =>
        traceParent is { Length: >= 55 } && traceParent[2] == '-' && traceParent[35] == '-' ? traceParent.Substring(3, 32) : null;
}

/// <summary>The compact JSON form of an attempt in the job's history.</summary>
internal static class StoredAttempt
{
    public static string Serialize(JobAttempt attempt)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("n", attempt.Number);
            w.WriteNumber("s", attempt.StartedAt.ToUnixTimeMilliseconds());
            if (attempt.EndedAt is { } ended)
            {
                w.WriteNumber("e", ended.ToUnixTimeMilliseconds());
            }

            w.WriteString("silo", attempt.Silo);
            w.WriteString("o", attempt.Outcome.ToString());
            if (attempt.Error is { } error)
            {
                w.WriteString("et", error.Type);
                w.WriteString("em", error.Message);
                if (error.StackTrace is { } stack)
                {
                    w.WriteString("es", stack);
                }
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// A successful attempt, the last of its job (Succeeded is final), as <c>n|started ms|ended ms|silo</c> in a field of
    /// its own: ≈ 55 bytes where its JSON in the history would be ≈ 95 (over Redis' default 64-byte limit for compact
    /// hashes, which would turn the job's hash into a hash table: 2.3× the memory), and written without reading the history.
    /// </summary>
    public static string SerializeSucceeded(JobAttempt attempt) => string.Create(CultureInfo.InvariantCulture,
        $"{attempt.Number}|{attempt.StartedAt.ToUnixTimeMilliseconds()}|{attempt.EndedAt?.ToUnixTimeMilliseconds()}|{attempt.Silo}");

    public static JobAttempt? DeserializeSucceeded(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var parts = value.Split('|', 4); // the silo, last, is whatever follows the third bar
        return new JobAttempt
        {
            Number = int.Parse(parts[0], CultureInfo.InvariantCulture),
            StartedAt = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[1], CultureInfo.InvariantCulture)),
            EndedAt = parts[2].Length > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(parts[2], CultureInfo.InvariantCulture)) : null,
            Silo = parts[3].Length > 0 ? parts[3] : null,
            Outcome = AttemptOutcome.Succeeded,
        };
    }

    public static IReadOnlyList<JobAttempt> DeserializeList(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return [];
        }

        using var doc = JsonDocument.Parse(json);
        var list = new List<JobAttempt>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            list.Add(new JobAttempt
            {
                Number = e.GetProperty("n").GetInt32(),
                StartedAt = DateTimeOffset.FromUnixTimeMilliseconds((long)e.GetProperty("s").GetDouble()),
                EndedAt = e.TryGetProperty("e", out var ended) ? DateTimeOffset.FromUnixTimeMilliseconds((long)ended.GetDouble()) : null,
                Silo = e.TryGetProperty("silo", out var silo) ? silo.GetString() : null,
                Outcome = Enum.Parse<AttemptOutcome>(e.GetProperty("o").GetString()!),
                Error = e.TryGetProperty("et", out var et)
                    ? new JobError(et.GetString()!, e.TryGetProperty("em", out var em) ? em.GetString() ?? "" : "", e.TryGetProperty("es", out var es) ? es.GetString() : null)
                    : null,
            });
        }

        return list;
    }
}
