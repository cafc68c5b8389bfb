using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace OrleansWorker.Client;

/// <summary><see cref="IJobClient"/> over the Orleans client: every call goes to a stateless worker grain on some silo.</summary>
internal sealed class JobClient(IGrainFactory grains, IOptions<JobClientOptions> options, TimeProvider time) : IJobClient
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Allowance for the store's clock running behind the time this client set <c>notAfter</c> on: that time is the
    /// earliest the store's could read when a silo answered, so this covers drift since, and this process's own clock
    /// when no silo gave a reading.
    /// </summary>
    private static readonly TimeSpan ClockSkewMargin = TimeSpan.FromMilliseconds(500);

    /// <summary>How many keys the stateless front-door grain is addressed by.</summary>
    private const int ManagerKeys = 64;

    private readonly IJobManagerGrain[] _managers = Enumerable.Range(0, ManagerKeys).Select(k => grains.GetGrain<IJobManagerGrain>(k)).ToArray();
    private int _nextKey;
    private StoreTime? _storeTime;

    /// <summary>The store's time as this client knows it: what a submission's <c>notAfter</c> is set on.</summary>
    private StoreTime Clock => Volatile.Read(ref _storeTime) ?? CreateClock();

    private StoreTime CreateClock()
    {
        var clock = new StoreTime(() => CallAsync(m => m.GetTimeAsync(), ClockReadTimeout, CancellationToken.None), time, ClockReadTimeout);
        return Interlocked.CompareExchange(ref _storeTime, clock, null) ?? clock;
    }

    /// <summary>How long a submission waits for a silo's reading of the store's clock before it goes by its own (it comes out of the submission's deadline).</summary>
    private TimeSpan ClockReadTimeout => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, options.Value.CallTimeout.Ticks / 10));

    /// <summary>
    /// The front door, under a rotating key: the client picks a gateway by the target grain's id, so a single key
    /// would send every call through one silo — and keep sending them to it after it died, until membership says so.
    /// (References made once: GetGrain resolves the interface by reflection every time.)
    /// </summary>
    private IJobManagerGrain Manager() => _managers[(Interlocked.Increment(ref _nextKey) & int.MaxValue) % ManagerKeys];

    public async Task<EnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default) =>
        (await EnqueueManyAsync([request], cancellationToken))[0];

    public async Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IReadOnlyList<JobRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);

        // Ids are fixed here, before the first try, so that a retry after an ambiguous failure (a silo died with the
        // call in flight) is idempotent: the job is then either created by the retry or found by it, never doubled.
        var traceParent = Activity.Current?.Id;
        requests = requests.Select(r => r is null ? r! : r with
        {
            Id = r.Id ?? JobIds.For(r),
            TraceParent = r.TraceParent ?? traceParent,
        }).ToList();

        EnqueueResponse response;
        var started = time.GetTimestamp();
        var clock = await Clock.GetAsync();
        DateTimeOffset notAfter = default;
        try
        {
            // Two thirds of the deadline for tries, the rest for the check below: the caller's deadline holds either way.
            // The store refuses writes that reach it after notAfter (by its clock, which notAfter is set on), so once that
            // has passed the check is final.
            var tryWindow = options.Value.CallTimeout * 2 / 3 - time.GetElapsedTime(started);
            notAfter = clock.Now + tryWindow;
            response = await CallWithRetryAsync(m => m.EnqueueAsync(requests, notAfter), tryWindow, cancellationToken);
        }
        catch (JobServiceUnavailableException ex) when (!cancellationToken.IsCancellationRequested)
        {
            Clock.Forget();

            // Every try failed, but one may have been stored before its answer was lost (a silo died after the write).
            // A batch is stored all or nothing on each store shard: if the jobs exist, the submission was accepted; if
            // none does once notAfter (plus a margin for clock skew) has passed, none ever will. Jobs that span shards
            // (Worker:Redis:Shards > 1) are stored shard by shard, so part of them can exist: that is said, with the count.
            var settle = notAfter + ClockSkewMargin - clock.Now;
            if (settle > TimeSpan.Zero)
            {
                await Task.Delay(settle, time, CancellationToken.None);
            }

            return await FindStoredAsync(requests) switch
            {
                { Results: { } stored } => stored,
                { Found: 0 } => throw new JobServiceUnavailableException($"{ex.Message} Nothing was stored.", ex),
                { Found: > 0 and var found } => throw new JobServiceUnavailableException(
                    $"{ex.Message} {found} of {requests.Count} jobs were stored (they span the store's shards, each stored on its own); resubmitting them with the same ids stores the rest.", ex),
                _ => throw new JobServiceUnavailableException($"{ex.Message} Whether the jobs were stored could not be checked; resubmitting them with the same ids is safe.", ex),
            };
        }

        return response.Accepted ? response.Results : throw new JobValidationException(response.Errors);
    }

    public Task<JobView?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.GetAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobPage> ListAsync(JobListQuery query, CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.ListAsync(query), options.Value.CallTimeout, cancellationToken);

    public Task<IReadOnlyList<QueueView>> GetQueuesAsync(CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.GetQueuesAsync(), options.Value.CallTimeout, cancellationToken);

    public async Task<QueueView> UpdateQueueAsync(string name, QueueSettingsUpdate update, CancellationToken cancellationToken = default)
    {
        var result = await CallAsync(m => m.UpdateQueueAsync(name, update), options.Value.CallTimeout, cancellationToken);
        return result.Accepted
            ? result.Queue!
            : throw new JobValidationException(result.Errors.Select(e => new JobValidationError(0, "queue", "invalid_settings", e)).ToList());
    }

    public async Task<BatchResponse> EnqueueBatchAsync(BatchRequest batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);

        // The id is fixed before the first try: a retry after a lost answer finds the batch instead of making another.
        batch = batch with { Id = batch.Id ?? Guid.CreateVersion7().ToString("N") };
        var started = time.GetTimestamp();
        var clock = await Clock.GetAsync();
        var spent = time.GetElapsedTime(started);
        var notAfter = clock.Now + options.Value.CallTimeout * 2 / 3 - spent;
        BatchResponse response;
        try
        {
            response = await CallWithRetryAsync(m => m.EnqueueBatchAsync(batch, notAfter), options.Value.CallTimeout - spent, cancellationToken);
        }
        catch (JobServiceUnavailableException)
        {
            Clock.Forget();
            throw;
        }

        return response.Accepted ? response : throw new JobValidationException(response.Errors);
    }

    public Task<BatchView?> GetBatchAsync(string id, CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.GetBatchAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<IReadOnlyList<ScheduleView>> GetSchedulesAsync(CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.GetSchedulesAsync(), options.Value.CallTimeout, cancellationToken);

    public Task<ScheduleView?> GetScheduleAsync(string id, CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.GetScheduleAsync(id), options.Value.CallTimeout, cancellationToken);

    public async Task<ScheduleView> PutScheduleAsync(ScheduleDefinition schedule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var result = await CallWithRetryAsync(m => m.PutScheduleAsync(schedule), options.Value.CallTimeout, cancellationToken);
        return result.Status == JobCommandStatus.Ok
            ? result.Schedule!
            : throw new JobValidationException(result.Errors.Select(e => new JobValidationError(0, "schedule", "invalid_schedule", e)).ToList());
    }

    public Task<ScheduleResult> ScheduleCommandAsync(string id, ScheduleCommand command, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.ScheduleCommandAsync(id, command), options.Value.CallTimeout, cancellationToken);

    public Task<JobStats> GetStatsAsync(CancellationToken cancellationToken = default) =>
        CallWithRetryAsync(m => m.GetStatsAsync(), options.Value.CallTimeout, cancellationToken);

    public Task<JobCommandResult> CancelAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.CancelAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobCommandResult> RetryAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.RetryAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobCommandResult> DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.DeleteAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobView?> WaitAsync(string id, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        timeout = timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout > MaxWait ? MaxWait : timeout;
        return CallAsync(m => m.WaitAsync(id, timeout), timeout + options.Value.CallTimeout, cancellationToken);
    }

    private async Task<T> CallAsync<T>(Func<IJobManagerGrain, Task<T>> call, TimeSpan deadline, CancellationToken cancellationToken)
    {
        try
        {
            return await call(Manager()).WaitAsync(deadline, cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new JobServiceUnavailableException($"The job service did not answer within {deadline.TotalSeconds:0.#} s.", ex);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw new JobServiceUnavailableException($"The job service cannot be reached: {ex.Message}", ex);
        }
    }

    /// <summary>How many of the requested jobs exist (-1: it could not be checked), and when all do, what each is now.</summary>
    private async Task<(int Found, IReadOnlyList<EnqueueResult>? Results)> FindStoredAsync(IReadOnlyList<JobRequest> requests)
    {
        var budget = options.Value.CallTimeout / 3 - ClockSkewMargin;
        try
        {
            var jobs = await Task.WhenAll(requests.Select(r => CallAsync(m => m.GetAsync(r.Id!), budget, CancellationToken.None)));
            var found = jobs.Count(j => j is not null);
            return found == jobs.Length
                ? (found, jobs.Select(j => new EnqueueResult(j!.Id, j.State, Created: false)).ToList())
                : (found, null);
        }
        catch (JobServiceUnavailableException)
        {
            return (-1, null);
        }
    }

    /// <summary>
    /// For idempotent calls: each try gets a slice of the deadline, so a call stuck on a silo that died (Orleans would
    /// wait for its 30 s response timeout) is retried through another gateway while time remains.
    /// </summary>
    private async Task<T> CallWithRetryAsync<T>(Func<IJobManagerGrain, Task<T>> call, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var tries = 0;
        var tryTimeout = TimeSpan.FromTicks(Math.Max(deadline.Ticks / 3, TimeSpan.FromSeconds(1).Ticks));
        var backoff = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            var left = deadline - time.GetElapsedTime(started);
            try
            {
                return await CallAsync(call, left < tryTimeout ? left : tryTimeout, cancellationToken);
            }
            catch (JobServiceUnavailableException ex)
            {
                tries++;
                if (deadline - time.GetElapsedTime(started) <= backoff || cancellationToken.IsCancellationRequested)
                {
                    throw new JobServiceUnavailableException($"The job service could not be reached within {deadline.TotalSeconds:0.#} s ({tries} tries); last: {ex.Message}", ex);
                }

                await Task.Delay(backoff, time, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
            }
        }
    }

    /// <summary>Orleans' own failures to reach a silo (no gateway, silo gone, message rejected).</summary>
    private static bool IsUnavailable(Exception ex) =>
        ex is SiloUnavailableException or Orleans.Runtime.Messaging.ConnectionFailedException or OrleansMessageRejectionException or ClientNotAvailableException
        || (ex is OrleansException && ex is not JobServiceUnavailableException);
}
