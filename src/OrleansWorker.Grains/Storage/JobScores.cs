using System.Globalization;

namespace OrleansWorker.Storage;

/// <summary>Orders ready jobs: higher priority first, then first come first served.</summary>
internal static class JobScores
{
    /// <summary>Room for sequence numbers in one priority band; 2001 bands × 4e12 stays below 2^53, exact in a double.</summary>
    private const long Band = 4_000_000_000_000;

    public static long ReadyScore(int priority, long sequence) => ((1000L - priority) * Band) + (sequence % Band);
}

/// <summary>Keyset cursor for listings: the score and id of the last item of the previous page.</summary>
internal static class ListCursor
{
    public static string Format(long score, string id) => string.Create(CultureInfo.InvariantCulture, $"{score}~{id}");

    public static (long Score, string Id)? Parse(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        var split = cursor.IndexOf('~', StringComparison.Ordinal);
        return split > 0 && long.TryParse(cursor.AsSpan(0, split), NumberStyles.Integer, CultureInfo.InvariantCulture, out var score)
            ? (score, cursor[(split + 1)..])
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
