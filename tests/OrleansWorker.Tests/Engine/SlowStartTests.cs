using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// An attempt runs inside the grain call that starts it until its handler first awaits. A handler whose synchronous part
/// outlasts that call's timeout fails the call although the attempt runs: the job must not be given back then, or another
/// claim runs it again while the first attempt still does, and again at each timeout, so that it never finishes.
/// An in-process silo on the embedded store, its grain calls timing out after 1 s.
/// </summary>
public sealed class SlowStartTests : IAsyncLifetime
{
    private SingleSilo _silo = null!;

    /// <summary>Works for 3 s before it returns, without awaiting (CPU-bound work done before the first await).</summary>
    public sealed class BlockingHandler : IJobHandler
    {
        public static readonly ConcurrentDictionary<string, int> Runs = new(StringComparer.Ordinal);

        public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
        {
            Runs.AddOrUpdate(context.JobId, 1, (_, n) => n + 1);
            Thread.Sleep(TimeSpan.FromSeconds(3)); // the work itself, synchronous: what is under test, not a wait for it
            return Task.FromResult<string?>("\"done\"");
        }
    }

    public async Task InitializeAsync() => _silo = await SingleSilo.StartAsync(
        worker: w => w.AddJob<BlockingHandler>("blocking"),
        siloServices: s => s.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(1)));

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    [Fact]
    public async Task AHandlerThatHoldsItsStartCallPastTheTimeout_RunsOnce_AndItsJobSucceeds()
    {
        var store = _silo.Engine.Store;
        var id = "slow-start-" + Guid.NewGuid().ToString("N");
        await _silo.Jobs.EnqueueAsync(new JobRequest("blocking") { Id = id });

        var done = await Poll.UntilAsync(() => store.GetAsync(id), j => j?.State.IsFinished() == true, TimeSpan.FromSeconds(60), "the blocking job to finish");
        Assert.Equal((JobState.Succeeded, 1), (done!.State, done.Attempt));
        Assert.Equal(1, BlockingHandler.Runs[id]);
    }
}
