using System.Diagnostics.Metrics;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>A queue's limits changed while the silo holds jobs back by them: an in-process silo on the embedded store.</summary>
public sealed class QueueLimitTests : IAsyncLifetime
{
    private SingleSilo _silo = null!;

    // A poll interval longer than any wait here: what ends a wait is the change itself, not the next poll.
    public async Task InitializeAsync() => _silo = await SingleSilo.StartAsync(pollInterval: TimeSpan.FromMinutes(1));

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    /// <summary>Counts <c>worker_queue_limit_hits</c> of one queue and kind (this process' meters, any silo).</summary>
    private sealed class LimitHits : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public LimitHits(string queue, string kind)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "worker_queue_limit_hits")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? q = null, k = null;
                foreach (var tag in tags)
                {
                    (q, k) = tag.Key switch { "queue" => (tag.Value as string, k), "kind" => (q, tag.Value as string), _ => (q, k) };
                }

                if (q == queue && k == kind)
                {
                    Interlocked.Add(ref _count, value);
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task AJobHeldBackByARateLimit_RunsAsSoonAsTheLimitIsRaised_NotWhenTheOldWindowEnds()
    {
        var queue = "rated-" + Guid.NewGuid().ToString("N")[..8];
        using var hits = new LimitHits(queue, "rate");
        await _silo.Jobs.UpdateQueueAsync(queue, new QueueSettingsUpdate { RateLimit = new QueueRateLimit(2, TimeSpan.FromHours(1)) });
        var ids = Enumerable.Range(0, 3).Select(i => $"{queue}-{i}").ToList();
        await _silo.Jobs.EnqueueManyAsync(ids.Select(id => new JobRequest("noop") { Id = id, Queue = queue }).ToList());

        // Two start; the third is refused a start (the window is full for the hour) and stays queued.
        await Poll.UntilAsync(async () => (await Task.WhenAll(ids.Select(id => _silo.Jobs.GetAsync(id)))).Count(j => j?.State == JobState.Succeeded) == 2,
            TimeSpan.FromSeconds(20), "two of the three jobs to run");
        await Poll.UntilAsync(() => hits.Count > 0, TimeSpan.FromSeconds(20), "the silo to be refused a start by the rate window");
        var held = (await Task.WhenAll(ids.Select(id => _silo.Jobs.GetAsync(id)))).Single(j => j!.State != JobState.Succeeded)!;
        Assert.Equal(JobState.Queued, held.State);

        // The operator raises the limit: the held job runs now, not when the first start leaves the hour's window.
        await _silo.Jobs.UpdateQueueAsync(queue, new QueueSettingsUpdate { RateLimit = new QueueRateLimit(10, TimeSpan.FromHours(1)) });
        await Poll.UntilAsync(() => _silo.Jobs.GetAsync(held.Id), j => j?.State == JobState.Succeeded, TimeSpan.FromSeconds(20), "the held job to run once the limit is raised");
    }
}
