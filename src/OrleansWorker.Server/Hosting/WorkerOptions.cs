namespace OrleansWorker.Hosting;

/// <summary>Options of the job engine, bound from the <c>Worker</c> configuration section.</summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Worker";

    /// <summary>
    /// Handlers that may run at once on one silo. Default: 50 × processor count. An attempt whose handler returned and
    /// whose outcome is being written no longer takes a slot; at most <see cref="WriteBatchSize"/> such attempts wait on top.
    /// </summary>
    public int MaxConcurrentJobs { get; set; } = Environment.ProcessorCount * 50;

    /// <summary>
    /// Queues this silo takes jobs from, each <c>name</c> or <c>name=weight</c> (1–1000, default 1); empty means every
    /// queue, equally. Weights are Sidekiq's: every claim visits the queues in a weighted random order and offers each
    /// a share of the free capacity by weight (then the leftovers in the same order), so under a backlog the queues get
    /// about their weights' shares, and a light queue is never starved. Default: empty.
    /// </summary>
    public IList<string> Queues { get; } = [];

    /// <summary>Attempts when a request names none. Default: 5.</summary>
    public int DefaultMaxAttempts { get; set; } = 5;

    /// <summary>Per-attempt timeout when a request names none. Default: 5 minutes.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Largest payload accepted, in bytes of UTF-8 JSON. Default: 262,144 (256 KiB).</summary>
    public int MaxPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>Largest result stored, in bytes of UTF-8 JSON; a larger one fails the attempt. Default: 65,536 (64 KiB).</summary>
    public int MaxResultBytes { get; set; } = 64 * 1024;

    /// <summary>First retry backoff; doubles with each attempt. Default: 1 second.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest retry backoff. Default: 5 minutes.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a stopping silo lets running attempts finish before handing them back. Default: 30 seconds.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a silo's lease on its running jobs lasts without renewal (renewed every fifth of it). A silo that cannot
    /// renew for this long is revoked by the others and its jobs run elsewhere, whatever Orleans membership says of it;
    /// it also abandons its own attempts by then. Shorter recovers sooner from a cut-off silo; longer tolerates longer
    /// pauses (GC, a slow store) without moving jobs. Default: 10 seconds.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Interruptions (the job's silo died or lost its lease mid-attempt) before a job is dead-lettered. They do not use up
    /// attempts; a silo that was only cut off gives them back. Default: 5.
    /// </summary>
    public int MaxInterruptions { get; set; } = 5;

    /// <summary>
    /// After this long with no attempt running or starting, a silo that ran jobs since it last did so runs one compacting
    /// full garbage collection that returns the freed heap to the system (a burst's high-water mark otherwise stays).
    /// Zero: never. Default: 10 seconds.
    /// </summary>
    public TimeSpan IdleTrimDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often an idle dispatcher looks for work without being notified. Default: 1 second.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long <c>Succeeded</c> jobs are kept. Default: 24 hours.</summary>
    public TimeSpan SucceededRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long <c>Cancelled</c> jobs are kept. Default: 24 hours.</summary>
    public TimeSpan CancelledRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long <c>DeadLettered</c> jobs are kept. Default: 7 days.</summary>
    public TimeSpan DeadLetteredRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Prefix of every key of the engine (Redis or embedded). Default: <c>ow</c>.</summary>
    public string KeyPrefix { get; set; } = "ow";

    /// <summary>Register the built-in handlers <c>noop</c>, <c>echo</c>, <c>sleep</c> and <c>fail</c>. Default: true.</summary>
    public bool BuiltInHandlers { get; set; } = true;

    /// <summary>
    /// How late a recurring job's tick may fire (the cluster was down or busy): a tick later than this is a misfire,
    /// handled by the schedule's <see cref="MisfirePolicy"/>. Default: 1 minute.
    /// </summary>
    public TimeSpan ScheduleMisfireThreshold { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Largest number of jobs one store call writes (group commit): outcomes, and on Redis submissions grouped together
    /// (one larger submission is written alone, never split; the embedded engine, where each call is a commit of its own,
    /// groups up to a sixteenth as many submissions instead). Default: 512.
    /// </summary>
    public int WriteBatchSize { get; set; } = 512;
}
