namespace OrleansWorker.Storage;

/// <summary>
/// The embedded, single-process store: same transitions as <see cref="RedisJobStore"/>, under one lock.
/// Not durable: a process exit loses every job.
/// </summary>
internal sealed class InMemoryJobStore(TimeProvider? time = null) : IJobStore
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedSet<(long Score, string Id)>> _ready = new(StringComparer.Ordinal);
    private readonly SortedSet<(long DueMs, string Id)> _scheduled = [];
    private readonly Dictionary<string, HashSet<string>> _owned = new(StringComparer.Ordinal);
    private long _sequence;
    private long _claims;

    public bool IsDurable => false;

    public event Action<string?>? JobsReady;

    public Task<IReadOnlyList<EnqueueResult?>> EnqueueAsync(IReadOnlyList<NewJob> jobs)
    {
        var results = new List<EnqueueResult?>(jobs.Count);
        var now = _time.GetUtcNow();
        var readyQueues = new HashSet<string>(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (var n in jobs)
            {
                if (n.NotAfter < now)
                {
                    results.Add(null);
                    continue;
                }

                if (_jobs.TryGetValue(n.Id, out var existing))
                {
                    results.Add(new EnqueueResult(n.Id, existing.State, Created: false));
                    continue;
                }

                var job = new Job
                {
                    Id = n.Id,
                    Type = n.Type,
                    Queue = n.Queue,
                    Priority = n.Priority,
                    Payload = n.Payload,
                    MaxAttempts = n.MaxAttempts,
                    Timeout = n.Timeout,
                    CreatedAt = n.CreatedAt,
                    RunAt = n.RunAt,
                    TraceParent = n.TraceParent,
                    Sequence = ++_sequence,
                };
                _jobs.Add(job.Id, job);
                if (n.RunAt is { } due)
                {
                    SetState(job, JobState.Scheduled, n.CreatedAt);
                    _scheduled.Add((due.ToUnixTimeMilliseconds(), job.Id));
                }
                else
                {
                    MakeReady(job, n.CreatedAt);
                    readyQueues.Add(job.Queue);
                }

                results.Add(new EnqueueResult(job.Id, job.State, Created: true));
            }
        }

        foreach (var queue in readyQueues)
        {
            JobsReady?.Invoke(queue);
        }

        return Task.FromResult<IReadOnlyList<EnqueueResult?>>(results);
    }

    public Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(string owner, int max, IReadOnlyList<string> queues, DateTimeOffset now, DateTimeOffset leaseUntil)
    {
        var claimed = new List<ClaimedAttempt>();
        lock (_lock)
        {
            var names = queues.Count > 0 ? queues : _ready.Keys.ToList();
            var rotation = names.Count == 0 ? 0 : (int)(_sequence % names.Count);
            for (var q = 0; q < names.Count && claimed.Count < max; q++)
            {
                if (!_ready.TryGetValue(names[(q + rotation) % names.Count], out var ready))
                {
                    continue;
                }

                while (claimed.Count < max && ready.Count > 0)
                {
                    var first = ready.Min;
                    ready.Remove(first);
                    var job = _jobs[first.Id];
                    job.Attempt++;
                    job.ClaimToken = ++_claims;
                    job.Owner = owner;
                    job.LeaseUntil = leaseUntil;
                    job.StartedAt = now;
                    job.Progress = null;
                    SetState(job, JobState.Running, now);
                    Owned(owner).Add(job.Id);
                    claimed.Add(new ClaimedAttempt
                    {
                        JobId = job.Id,
                        Type = job.Type,
                        Queue = job.Queue,
                        Payload = job.Payload,
                        Attempt = job.Attempt,
                        MaxAttempts = job.MaxAttempts,
                        Timeout = job.Timeout,
                        Owner = owner,
                        StartedAt = now,
                        EnqueuedAt = job.ReadyAt,
                        TraceParent = job.TraceParent,
                        Priority = job.Priority,
                        ClaimToken = job.ClaimToken,
                    });
                }
            }
        }

        return Task.FromResult<IReadOnlyList<ClaimedAttempt>>(claimed);
    }

    public Task<IReadOnlyList<CompletionEffect>> CompleteAsync(IReadOnlyList<AttemptCompletion> completions)
    {
        var effects = new List<CompletionEffect>(completions.Count);
        var readyQueues = new HashSet<string>(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (var c in completions)
            {
                if (!_jobs.TryGetValue(c.JobId, out var job) || job.State != JobState.Running || job.Owner != c.Owner || job.Attempt != c.Attempt || job.ClaimToken != c.ClaimToken)
                {
                    effects.Add(CompletionEffect.Stale);
                    continue;
                }

                Owned(job.Owner).Remove(job.Id);
                job.Owner = null;
                job.ClaimToken = 0;
                if (c.Outcome != AttemptOutcome.Interrupted)
                {
                    // A claim handed back unstarted (or cut short by shutdown) is not an attempt of the job's.
                    job.Attempts.Add(new JobAttempt { Number = c.Attempt, StartedAt = c.StartedAt, EndedAt = c.EndedAt, Silo = c.Owner, Outcome = c.Outcome, Error = c.Error });
                    if (c.Error is not null)
                    {
                        job.LastError = c.Error;
                    }
                }

                if (job.CancelRequested)
                {
                    Finish(job, JobState.Cancelled, c.EndedAt);
                    effects.Add(CompletionEffect.Cancelled);
                }
                else if (c.Outcome == AttemptOutcome.Interrupted)
                {
                    job.Attempt--;
                    MakeReady(job, c.EndedAt);
                    readyQueues.Add(job.Queue);
                    effects.Add(CompletionEffect.Released);
                }
                else if (c.Outcome == AttemptOutcome.Succeeded)
                {
                    job.Result = c.Result;
                    Finish(job, JobState.Succeeded, c.EndedAt);
                    effects.Add(CompletionEffect.Succeeded);
                }
                else if (job.Attempt < job.MaxAttempts)
                {
                    job.RunAt = c.RetryAt;
                    SetState(job, JobState.Scheduled, c.EndedAt);
                    _scheduled.Add((c.RetryAt.ToUnixTimeMilliseconds(), job.Id));
                    effects.Add(CompletionEffect.Retrying);
                }
                else
                {
                    Finish(job, JobState.DeadLettered, c.EndedAt);
                    effects.Add(CompletionEffect.DeadLettered);
                }
            }
        }

        foreach (var queue in readyQueues)
        {
            JobsReady?.Invoke(queue);
        }

        return Task.FromResult<IReadOnlyList<CompletionEffect>>(effects);
    }

    public Task<IReadOnlyList<string>> RenewLeasesAsync(string owner, IReadOnlyList<string> jobIds, DateTimeOffset leaseUntil)
    {
        var cancelled = new List<string>();
        lock (_lock)
        {
            foreach (var id in jobIds)
            {
                if (_jobs.TryGetValue(id, out var job) && job.Owner == owner)
                {
                    job.LeaseUntil = leaseUntil;
                    if (job.CancelRequested)
                    {
                        cancelled.Add(id);
                    }
                }
            }
        }

        return Task.FromResult<IReadOnlyList<string>>(cancelled);
    }

    public Task<int> RequeueOwnerAsync(string owner, DateTimeOffset now, string reason, bool countAttempt)
    {
        int count;
        lock (_lock)
        {
            var ids = Owned(owner).ToList();
            foreach (var id in ids)
            {
                Interrupt(_jobs[id], now, reason, countAttempt);
            }

            count = ids.Count;
        }

        if (count > 0)
        {
            JobsReady?.Invoke(null);
        }

        return Task.FromResult(count);
    }

    public Task<IReadOnlyList<string>> GetOwnersAsync()
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyList<string>>(_owned.Where(p => p.Value.Count > 0).Select(p => p.Key).ToList());
        }
    }

    public Task<int> RequeueExpiredAsync(DateTimeOffset now)
    {
        int count;
        lock (_lock)
        {
            var expired = _jobs.Values.Where(j => j.State == JobState.Running && j.LeaseUntil < now).ToList();
            foreach (var job in expired)
            {
                Interrupt(job, now, "The attempt's lease expired: its silo stopped renewing it.", countAttempt: true);
            }

            count = expired.Count;
        }

        if (count > 0)
        {
            JobsReady?.Invoke(null);
        }

        return Task.FromResult(count);
    }

    public Task<(int Promoted, DateTimeOffset? NextDue)> PromoteDueAsync(DateTimeOffset now, int max)
    {
        var promoted = 0;
        DateTimeOffset? next;
        lock (_lock)
        {
            var nowMs = now.ToUnixTimeMilliseconds();
            while (promoted < max && _scheduled.Count > 0 && _scheduled.Min.DueMs <= nowMs)
            {
                var first = _scheduled.Min;
                _scheduled.Remove(first);
                MakeReady(_jobs[first.Id], now);
                promoted++;
            }

            next = _scheduled.Count > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(_scheduled.Min.DueMs) : null;
        }

        if (promoted > 0)
        {
            JobsReady?.Invoke(null);
        }

        return Task.FromResult((promoted, next));
    }

    public Task<bool> TransferAsync(string jobId, int attempt, string fromOwner, string toOwner)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(jobId, out var job) || job.State != JobState.Running || job.Attempt != attempt || job.Owner != fromOwner)
            {
                return Task.FromResult(false);
            }

            Owned(fromOwner).Remove(jobId);
            Owned(toOwner).Add(jobId);
            job.Owner = toOwner;
            return Task.FromResult(true);
        }
    }

    public Task ReportProgressAsync(string jobId, int attempt, JobProgress progress)
    {
        lock (_lock)
        {
            if (_jobs.TryGetValue(jobId, out var job) && job.State == JobState.Running && job.Attempt == attempt)
            {
                job.Progress = progress;
            }
        }

        return Task.CompletedTask;
    }

    public Task<JobView?> GetAsync(string id)
    {
        lock (_lock)
        {
            return Task.FromResult(_jobs.TryGetValue(id, out var job) ? job.ToView() : null);
        }
    }

    public Task<JobPage> ListAsync(JobListQuery query)
    {
        lock (_lock)
        {
            var cursor = ListCursor.Parse(query.Cursor);
            var items = _jobs.Values
                .Where(j => (query.State is null || j.State == query.State) && (query.Queue is null || j.Queue == query.Queue) && (query.Type is null || j.Type == query.Type))
                .Select(j => (Score: query.State is null ? j.CreatedAt.ToUnixTimeMilliseconds() : j.StateSince.ToUnixTimeMilliseconds(), Job: j))
                .Where(x => cursor is null || x.Score < cursor.Value.Score || (x.Score == cursor.Value.Score && string.CompareOrdinal(x.Job.Id, cursor.Value.Id) < 0))
                .OrderByDescending(x => x.Score).ThenByDescending(x => x.Job.Id, StringComparer.Ordinal)
                .Take(query.Limit + 1)
                .ToList();
            var page = items.Take(query.Limit).ToList();
            var next = items.Count > query.Limit ? ListCursor.Format(page[^1].Score, page[^1].Job.Id) : null;
            return Task.FromResult(new JobPage(page.Select(x => x.Job.ToView()).ToList(), next));
        }
    }

    public Task<JobCommandResult> CancelAsync(string id, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(id, out var job))
            {
                return Task.FromResult(new JobCommandResult(JobCommandStatus.NotFound, null));
            }

            switch (job.State)
            {
                case JobState.Queued:
                    _ready[job.Queue].Remove((job.ReadyScore, job.Id));
                    Finish(job, JobState.Cancelled, now);
                    break;
                case JobState.Scheduled:
                    _scheduled.Remove((job.RunAt!.Value.ToUnixTimeMilliseconds(), job.Id));
                    Finish(job, JobState.Cancelled, now);
                    break;
                case JobState.Running:
                    job.CancelRequested = true;
                    break;
                default:
                    return Task.FromResult(new JobCommandResult(JobCommandStatus.Conflict, job.ToView(), $"The job is {job.State}; only Queued, Scheduled or Running jobs can be cancelled."));
            }

            return Task.FromResult(new JobCommandResult(JobCommandStatus.Ok, job.ToView()));
        }
    }

    public Task<JobCommandResult> RequeueAsync(string id, DateTimeOffset now)
    {
        JobCommandResult result;
        lock (_lock)
        {
            if (!_jobs.TryGetValue(id, out var job))
            {
                return Task.FromResult(new JobCommandResult(JobCommandStatus.NotFound, null));
            }

            if (job.State is not (JobState.DeadLettered or JobState.Cancelled))
            {
                return Task.FromResult(new JobCommandResult(JobCommandStatus.Conflict, job.ToView(), $"The job is {job.State}; only DeadLettered or Cancelled jobs can be retried."));
            }

            job.Attempt = 0;
            job.CancelRequested = false;
            job.FinishedAt = null;
            MakeReady(job, now);
            result = new JobCommandResult(JobCommandStatus.Ok, job.ToView());
        }

        JobsReady?.Invoke(result.Job!.Queue);
        return Task.FromResult(result);
    }

    public Task<JobCommandResult> DeleteAsync(string id)
    {
        lock (_lock)
        {
            if (!_jobs.TryGetValue(id, out var job))
            {
                return Task.FromResult(new JobCommandResult(JobCommandStatus.NotFound, null));
            }

            if (!job.State.IsFinished())
            {
                return Task.FromResult(new JobCommandResult(JobCommandStatus.Conflict, job.ToView(), $"The job is {job.State}; only finished jobs can be deleted."));
            }

            _jobs.Remove(id);
            return Task.FromResult(new JobCommandResult(JobCommandStatus.Ok, null));
        }
    }

    public Task<int> PurgeAsync(DateTimeOffset now, RetentionPolicy retention, int max)
    {
        lock (_lock)
        {
            var expired = _jobs.Values
                .Where(j => j.FinishedAt is { } at && j.State switch
                {
                    JobState.Succeeded => at + retention.Succeeded <= now,
                    JobState.Cancelled => at + retention.Cancelled <= now,
                    JobState.DeadLettered => at + retention.DeadLettered <= now,
                    _ => false,
                })
                .Take(max)
                .Select(j => j.Id)
                .ToList();
            foreach (var id in expired)
            {
                _jobs.Remove(id);
            }

            return Task.FromResult(expired.Count);
        }
    }

    public Task<IReadOnlyDictionary<JobState, long>> CountByStateAsync()
    {
        lock (_lock)
        {
            var counts = JobStates.All.ToDictionary(s => s, _ => 0L);
            foreach (var job in _jobs.Values)
            {
                counts[job.State]++;
            }

            return Task.FromResult<IReadOnlyDictionary<JobState, long>>(counts);
        }
    }

    public Task PingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Interrupt(Job job, DateTimeOffset now, string reason, bool countAttempt)
    {
        Owned(job.Owner!).Remove(job.Id);
        var error = new JobError("AttemptInterrupted", reason);
        job.Attempts.Add(new JobAttempt { Number = job.Attempt, StartedAt = job.StartedAt ?? now, EndedAt = now, Silo = job.Owner, Outcome = AttemptOutcome.Interrupted, Error = error });
        job.Owner = null;
        job.ClaimToken = 0;
        job.LastError = error;
        if (!countAttempt)
        {
            job.Attempt--;
        }

        if (job.CancelRequested)
        {
            Finish(job, JobState.Cancelled, now);
        }
        else if (job.Attempt >= job.MaxAttempts)
        {
            Finish(job, JobState.DeadLettered, now);
        }
        else
        {
            MakeReady(job, now);
        }
    }

    private void MakeReady(Job job, DateTimeOffset now)
    {
        if (!_ready.TryGetValue(job.Queue, out var ready))
        {
            _ready[job.Queue] = ready = [];
        }

        job.ReadyAt = now;
        ready.Add((job.ReadyScore, job.Id));
        SetState(job, JobState.Queued, now);
    }

    private static void Finish(Job job, JobState state, DateTimeOffset now)
    {
        job.FinishedAt = now;
        SetState(job, state, now);
    }

    private static void SetState(Job job, JobState state, DateTimeOffset now)
    {
        job.State = state;
        job.StateSince = now;
    }

    private HashSet<string> Owned(string owner)
    {
        if (!_owned.TryGetValue(owner, out var set))
        {
            _owned[owner] = set = new HashSet<string>(StringComparer.Ordinal);
        }

        return set;
    }

    private sealed class Job
    {
        public required string Id { get; init; }
        public required string Type { get; init; }
        public required string Queue { get; init; }
        public int Priority { get; init; }
        public string? Payload { get; init; }
        public int MaxAttempts { get; init; }
        public TimeSpan Timeout { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public string? TraceParent { get; init; }
        public long Sequence { get; init; }
        public DateTimeOffset? RunAt { get; set; }
        public DateTimeOffset ReadyAt { get; set; }
        public JobState State { get; set; }
        public DateTimeOffset StateSince { get; set; }
        public int Attempt { get; set; }
        public long ClaimToken { get; set; }
        public string? Owner { get; set; }
        public DateTimeOffset LeaseUntil { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
        public JobProgress? Progress { get; set; }
        public string? Result { get; set; }
        public JobError? LastError { get; set; }
        public bool CancelRequested { get; set; }
        public List<JobAttempt> Attempts { get; } = [];

        public long ReadyScore => JobScores.ReadyScore(Priority, Sequence);

        public JobView ToView() => new()
        {
            Id = Id,
            Type = Type,
            Queue = Queue,
            Priority = Priority,
            State = State,
            Attempt = Attempt,
            MaxAttempts = MaxAttempts,
            Timeout = Timeout,
            CreatedAt = CreatedAt,
            RunAt = RunAt,
            StartedAt = StartedAt,
            FinishedAt = FinishedAt,
            Progress = Progress,
            Result = Result,
            LastError = LastError,
            TraceId = TraceContext.TraceIdOf(TraceParent),
            Payload = Payload,
            Attempts = Attempts.ToList(),
            CancelRequested = CancelRequested,
            Silo = State == JobState.Running ? Owner : null,
        };
    }
}
