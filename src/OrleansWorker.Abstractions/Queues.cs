namespace OrleansWorker;

/// <summary>At most <see cref="Limit"/> job starts per <see cref="Period"/> in a queue, across the cluster.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.QueueRateLimit")]
public sealed record QueueRateLimit([property: Id(0)] int Limit, [property: Id(1)] TimeSpan Period);

/// <summary>A queue's settings, stored with the jobs and followed by every silo without a restart.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.QueueSettings")]
public sealed record QueueSettings
{
    /// <summary>Nothing new starts while set; running jobs finish.</summary>
    [Id(0)] public bool Paused { get; init; }

    /// <summary>When set, the pause ends by itself then (a remote side's Retry-After).</summary>
    [Id(1)] public DateTimeOffset? PausedUntil { get; init; }

    /// <summary>At most this many jobs of the queue run at once across the cluster; null for no limit.</summary>
    [Id(2)] public int? MaxConcurrency { get; init; }

    /// <summary>At most this many starts per period across the cluster; null for no limit.</summary>
    [Id(3)] public QueueRateLimit? RateLimit { get; init; }
}

/// <summary>A queue: its settings and how many of its jobs are in each state.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.QueueView")]
public sealed record QueueView
{
    [Id(0)] public required string Name { get; init; }

    [Id(1)] public QueueSettings Settings { get; init; } = new();

    [Id(2)] public IReadOnlyDictionary<JobState, long> States { get; init; } = new Dictionary<JobState, long>();
}

/// <summary>A change of a queue's settings: only what is set changes (<see cref="ClearMaxConcurrency"/> and <see cref="ClearRateLimit"/> remove a limit).</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.QueueSettingsUpdate")]
public sealed record QueueSettingsUpdate
{
    [Id(0)] public bool? Paused { get; init; }

    [Id(1)] public int? MaxConcurrency { get; init; }

    [Id(2)] public bool ClearMaxConcurrency { get; init; }

    [Id(3)] public QueueRateLimit? RateLimit { get; init; }

    [Id(4)] public bool ClearRateLimit { get; init; }

    /// <summary>Pause until this time (and resume by itself then).</summary>
    [Id(5)] public DateTimeOffset? PausedUntil { get; init; }
}

/// <summary>The answer to a change of queue settings: the queue as it is now, or what was wrong.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.QueueUpdateResult")]
public sealed record QueueUpdateResult([property: Id(0)] QueueView? Queue, [property: Id(1)] IReadOnlyList<string> Errors)
{
    public bool Accepted => Errors.Count == 0;
}
