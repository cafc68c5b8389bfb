using System.Text;
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
    public const int MaxDependencies = 1000;

    /// <summary>
    /// Whether <paramref name="value"/> is 1–200 characters of <c>[A-Za-z0-9._:-]</c>, not dots alone (<c>.</c> and
    /// <c>..</c> are path segments: no URL could name such a job or queue).
    /// </summary>
    public static bool IsValidName(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxIdLength || value.Trim('.').Length == 0)
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

    /// <summary>
    /// Checks submitted jobs and turns the valid ones into <paramref name="jobs"/> (defaults applied, ids chosen). The
    /// payload limit is <see cref="WorkerOptions.MaxPayloadBytes"/> unless <paramref name="maxPayloadBytes"/> says
    /// otherwise (a job accepted earlier, under the limit of its time, is not refused for a limit lowered since).
    /// </summary>
    public static IReadOnlyList<JobValidationError> Validate(
        IReadOnlyList<JobRequest> requests,
        WorkerOptions options,
        Func<string, bool> isKnownType,
        IReadOnlyList<string> knownTypes,
        DateTimeOffset now,
        Func<string> newId,
        out List<NewJob> jobs,
        int shards = 1,
        Func<string, int>? shardOf = null,
        int? maxPayloadBytes = null)
    {
        shardOf ??= _ => 0;
        var payloadLimit = maxPayloadBytes ?? options.MaxPayloadBytes;
        var errors = new List<JobValidationError>();
        jobs = new List<NewJob>(requests.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);

        // Where each id last appears, and where it first appears with a uniqueKey: a dependency's place in the submission
        // is then one lookup, not a scan (a submission of thousands of jobs with many dependencies each is checked in
        // linear time, not in the square of it).
        var lastAt = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstUniqueAt = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var k = 0; k < requests.Count; k++)
        {
            var request = requests[k];
            if (request?.Id is { } id)
            {
                lastAt[id] = k;
                if (request.UniqueKey is not null)
                {
                    firstUniqueAt.TryAdd(id, k);
                }
            }
        }

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
                Fail("id", "invalid_id", $"The id '{Truncate(r.Id)}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._:-], not dots alone.");
            }
            else if (r.Id is not null && !seen.Add(r.Id))
            {
                Fail("id", "duplicate_id", $"The id '{r.Id}' appears more than once in the batch.");
            }

            if (r.Queue is not null && !IsValidName(r.Queue))
            {
                Fail("queue", "invalid_queue", $"The queue '{Truncate(r.Queue)}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._:-], not dots alone.");
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

            if (r.UniqueKey is { } uniqueKey)
            {
                if (!IsValidUniqueKey(uniqueKey))
                {
                    Fail("uniqueKey", "invalid_unique_key", $"The uniqueKey '{Truncate(uniqueKey)}' must be 1–{MaxIdLength} printable characters without spaces or '|'.");
                }
                else if (shards > 1 && r.Id is { } chosen && !chosen.StartsWith(JobIds.UniqueTag(uniqueKey) + "::", StringComparison.Ordinal))
                {
                    Fail("id", "id_outside_unique_shard",
                        $"With the jobs spread over {shards} shards, a job with a uniqueKey must let the server choose its id or use an id that starts with '{JobIds.UniqueTag(uniqueKey)}::' (JobIds.New(uniqueKey)).");
                }
            }

            if (r.UniqueFor is { } uniqueFor && (uniqueFor < TimeSpan.Zero || uniqueFor > TimeSpan.FromDays(30) || r.UniqueKey is null))
            {
                Fail("uniqueForSeconds", "out_of_range", r.UniqueKey is null
                    ? "uniqueForSeconds needs a uniqueKey."
                    : $"uniqueForSeconds must be 0..2592000 (was {uniqueFor.TotalSeconds}).");
            }

            var dependsOn = r.DependsOn ?? [];
            var withinLimit = dependsOn.Count <= MaxDependencies;
            if (!withinLimit)
            {
                Fail("dependsOn", "too_many_dependencies", $"A job depends on at most {MaxDependencies} jobs (was {dependsOn.Count}).");
            }

            // Past the limit the request is refused for that alone: its dependencies are not checked one by one.
            foreach (var dependency in withinLimit ? dependsOn : [])
            {
                if (!IsValidName(dependency))
                {
                    Fail("dependsOn", "invalid_dependency", $"The dependency id '{Truncate(dependency ?? "")}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._:-], not dots alone.");
                }
                else if (dependency == r.Id)
                {
                    Fail("dependsOn", "self_dependency", $"Job '{dependency}' cannot depend on itself.");
                }
                else if (lastAt.TryGetValue(dependency, out var last) && last > i)
                {
                    Fail("dependsOn", "dependency_order", $"'{dependency}' comes later in this submission: list a job after the jobs it depends on (so no cycle can form).");
                }
                else if (firstUniqueAt.TryGetValue(dependency, out var unique) && unique < i)
                {
                    Fail("dependsOn", "unique_dependency", $"'{dependency}' has a uniqueKey, so it may be answered by another job: depend on it in a later submission, by the id it got.");
                }
            }

            if (withinLimit && dependsOn.Count != dependsOn.Distinct(StringComparer.Ordinal).Count())
            {
                Fail("dependsOn", "duplicate_dependency", "dependsOn names a job more than once.");
            }

            if (shards > 1 && dependsOn.Count > 0 && errors.Count == before)
            {
                // A job, its pending set and its dependencies' dependents sets live on one shard (one atomic step).
                var shard = shardOf(dependsOn[0]);
                if (dependsOn.Any(d => shardOf(d) != shard))
                {
                    Fail("dependsOn", "dependencies_across_shards",
                        $"With the jobs spread over {shards} shards, a job's dependencies must share a shard: give them ids with a common prefix before '::' (e.g. 'order-42::a', 'order-42::b').");
                }
                else if (r.Id is { } own && shardOf(own) != shard)
                {
                    Fail("id", "id_outside_dependency_shard",
                        $"With the jobs spread over {shards} shards, a job with dependencies must let the server choose its id or use one with the same prefix before '::' as its dependencies ('{ShardPrefix(dependsOn[0])}::…').");
                }
                else if (r.UniqueKey is not null)
                {
                    Fail("uniqueKey", "unique_key_with_dependencies", $"With the jobs spread over {shards} shards, a job with dependencies cannot also have a uniqueKey (each decides the job's shard).");
                }
            }

            if (r.Payload is not null)
            {
                var bytes = Encoding.UTF8.GetByteCount(r.Payload);
                if (bytes > payloadLimit)
                {
                    Fail("payload", "payload_too_large", $"The payload is {bytes} bytes; the limit is {payloadLimit}.");
                }
                else if (!JsonText.IsValid(r.Payload))
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
                Id: r.Id ?? (r.UniqueKey is null && dependsOn.Count > 0 && shards > 1 ? JobIds.For(r) : r.UniqueKey is { } key ? JobIds.New(key) : newId()),
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
                UniqueKey = r.UniqueKey,
                UniqueFor = r.UniqueFor ?? TimeSpan.Zero,
                DependsOn = dependsOn,
                ContinueOnDependencyFailure = r.ContinueOnDependencyFailure,
            });
        }

        if (errors.Count > 0)
        {
            jobs.Clear();
        }

        return errors;
    }

    /// <summary>The part of an id that decides its shard: before the first '::', or all of it.</summary>
    public static string ShardPrefix(string id) => id.IndexOf("::", StringComparison.Ordinal) is > 0 and var end ? id[..end] : id;

    /// <summary>The dependencies of a submission that are not in it (they must exist in the store).</summary>
    public static IReadOnlyList<string> ExternalDependencies(IReadOnlyList<NewJob> jobs)
    {
        var inSubmission = jobs.Select(j => j.Id).ToHashSet(StringComparer.Ordinal);
        return jobs.SelectMany(j => j.DependsOn).Where(d => !inSubmission.Contains(d)).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>A unique key: 1–200 printable characters, no whitespace, no '|' (the store's separator).</summary>
    public static bool IsValidUniqueKey(string key) =>
        key.Length is >= 1 and <= MaxIdLength && key.All(c => !char.IsWhiteSpace(c) && !char.IsControl(c) && c != '|');

    /// <summary>Checks a change of queue settings; every problem, with the values.</summary>
    public static List<string> ValidateQueue(string name, QueueSettingsUpdate update, DateTimeOffset now)
    {
        var errors = new List<string>();
        if (!IsValidName(name))
        {
            errors.Add($"The queue name '{Truncate(name)}' must be 1–{MaxIdLength} characters of [A-Za-z0-9._:-], not dots alone.");
        }

        if (update.MaxConcurrency is { } max && max is < 1 or > 100_000)
        {
            errors.Add($"maxConcurrency must be 1..100000 (was {max}); clear it to remove the limit.");
        }

        if (update.RateLimit is { } rate)
        {
            if (rate.Limit is < 1 or > 1_000_000)
            {
                errors.Add($"rateLimit.limit must be 1..1000000 (was {rate.Limit}).");
            }

            // Whole milliseconds: the store keeps the window in them (a period under 1 ms was a window of 0, no limit at all).
            if (rate.Period < TimeSpan.FromMilliseconds(1) || rate.Period > TimeSpan.FromDays(1) || rate.Period.Ticks % TimeSpan.TicksPerMillisecond != 0)
            {
                errors.Add($"rateLimit.periodSeconds must be 0.001..86400 in whole milliseconds (was {rate.Period.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}).");
            }
        }

        if (update.PausedUntil is { } until && (until <= now || until > now.AddDays(365)))
        {
            errors.Add($"pausedUntil must be in the next year (was {until:O}).");
        }

        return errors;
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");
}
