using System.Collections.Concurrent;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using OrleansWorker.Tests.Storage;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// A claim whose answer reaches its silo only after the job was handed back or taken over (the silo began to stop, or
/// it was revoked): the claimed job must not start there as well, or it runs twice. An in-process silo on the embedded
/// store; the store applies the claim, and the test holds its answer.
/// </summary>
public sealed class StopRaceTests : IAsyncLifetime
{
    private readonly TaskCompletionSource _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _holdFor;
    private SingleSilo _silo = null!;

    /// <summary>Counts its runs per job id.</summary>
    public sealed class RecordingHandler : IJobHandler
    {
        public static readonly ConcurrentDictionary<string, int> Runs = new(StringComparer.Ordinal);

        public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
        {
            Runs.AddOrUpdate(context.JobId, 1, (_, n) => n + 1);
            return Task.FromResult<string?>(null);
        }
    }

    public async Task InitializeAsync() => _silo = await SingleSilo.StartAsync(
        worker: w => w.AddJob<RecordingHandler>("record"),
        wrap: backend => new SharedBackend(backend, afterClaim: HoldAsync));

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        await _silo.DisposeAsync();
    }

    private async Task HoldAsync(KvClaimResult result)
    {
        if (_holdFor is { } id && result.Jobs.Any(j => j.Id == id))
        {
            _holdFor = null; // its first claim only
            _claimed.TrySetResult();
            await _release.Task;
        }
    }

    [Fact]
    public async Task AClaimAnsweredAfterTheStopHandedItsJobBack_DoesNotStartTheJob()
    {
        var silo = _silo.Cluster.Silos[0];
        var store = _silo.Engine.Store;
        var id = "stop-race-" + Guid.NewGuid().ToString("N");
        _holdFor = id;
        await _silo.Jobs.EnqueueAsync(new JobRequest("record") { Id = id });
        await _claimed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(JobState.Running, (await store.GetAsync(id))!.State); // claimed in the store; the silo has not heard yet

        // The silo stops: nothing runs, so it hands back at once what its owner holds in the store, this job among it.
        var stopping = _silo.Cluster.StopSiloAsync(silo);
        var handedBack = await Poll.UntilAsync(() => store.GetAsync(id), j => j?.State == JobState.Queued, TimeSpan.FromSeconds(30), "the stopping silo to hand the claimed job back");
        Assert.Equal(0, handedBack!.Attempt); // handed back, not counted as an attempt

        // Only now does the claim's answer arrive.
        _release.SetResult();
        await stopping.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(RecordingHandler.Runs.ContainsKey(id), "the job ran on the stopping silo after it had been handed back, so it would run twice");
        var after = await store.GetAsync(id);
        Assert.Equal((JobState.Queued, 0), (after!.State, after.Attempt));
    }

    [Fact]
    public async Task AClaimAnsweredAfterItsOwnerWasRevoked_DoesNotStartTheJob_WhichRunsOnceUnderTheNextOwner()
    {
        var engine = _silo.Engine;
        var store = engine.Store;
        var id = "revoked-race-" + Guid.NewGuid().ToString("N");
        _holdFor = id;
        await _silo.Jobs.EnqueueAsync(new JobRequest("record") { Id = id });
        await _claimed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var owner = engine.Owner;
        Assert.Equal(JobState.Running, (await store.GetAsync(id))!.State);

        // Another silo revokes this one (as after a cut longer than a lease): it finds out at its next renewal and goes on
        // under its next owner name; the revoked owner's jobs are queued again.
        for (var shard = 0; shard < store.Shards; shard++)
        {
            await store.RevokeAsync(new OrleansWorker.Storage.ShardOwner(shard, owner), DateTimeOffset.UtcNow, leaseEndedBy: null);
        }

        await Poll.UntilAsync(() => engine.Owner != owner, TimeSpan.FromSeconds(30), "the silo to find itself revoked and move to its next owner name");

        // Only now does the claim's answer arrive: it was made under the revoked name.
        _release.SetResult();
        await Poll.UntilAsync(() => store.GetAsync(id), j => j?.State == JobState.Succeeded, TimeSpan.FromSeconds(30), "the job to run under the next owner name");
        Assert.Equal(1, RecordingHandler.Runs.GetValueOrDefault(id));
    }
}
