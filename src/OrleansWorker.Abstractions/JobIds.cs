namespace OrleansWorker;

/// <summary>Helpers for job ids.</summary>
public static class JobIds
{
    /// <summary>
    /// The id prefix of jobs with a unique key: <c>u{8 hex digits of FNV-1a(key)}</c>. A job whose id starts with it and
    /// <c>::</c> lives in the same store shard as its key's entry, which is what lets deduplication stay atomic when
    /// the jobs are spread over several shards. The client gives such jobs an id <c>{tag}::{guid}</c> by itself.
    /// </summary>
    public static string UniqueTag(string uniqueKey)
    {
        ArgumentNullException.ThrowIfNull(uniqueKey);
        var hash = 2166136261u;
        foreach (var c in uniqueKey)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return "u" + hash.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A new id: a version-7 GUID (time-ordered), or for a job with a unique key, <c>{UniqueTag}::{guid}</c>.</summary>
    public static string New(string? uniqueKey = null)
    {
        var id = Guid.CreateVersion7().ToString("N");
        return uniqueKey is null ? id : $"{UniqueTag(uniqueKey)}::{id}";
    }

    /// <summary>
    /// A new id for <paramref name="request"/>: <see cref="New(string?)"/> for its unique key, or — for a job with
    /// dependencies — <c>{its first dependency's prefix}::{guid}</c>, which keeps it in its dependencies' store shard
    /// (the part of an id before <c>::</c> decides the shard).
    /// </summary>
    public static string For(JobRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.UniqueKey is null && request.DependsOn is [var first, ..] && first is not null)
        {
            var end = first.IndexOf("::", StringComparison.Ordinal);
            var prefix = end > 0 ? first[..end] : first;
            if (prefix.Length <= 160)
            {
                return $"{prefix}::{Guid.CreateVersion7():N}";
            }
        }

        return New(request.UniqueKey);
    }
}
