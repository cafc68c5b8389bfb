using OrleansWorker.Execution;

namespace OrleansWorker.Tests.Engine;

/// <summary>Group commit: what one store call carries, and what each caller gets back.</summary>
public sealed class GroupCommitterTests
{
    /// <summary>A writer that records each batch and holds the first one until released, so that the rest queue up.</summary>
    private sealed class HeldWriter
    {
        private readonly TaskCompletionSource _firstHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<int[]> _batches = [];

        public Task FirstHeld => _firstHeld.Task;

        public void Release() => _release.TrySetResult();

        public IReadOnlyList<int[]> Batches
        {
            get
            {
                lock (_batches)
                {
                    return _batches.ToList();
                }
            }
        }

        public async Task<IReadOnlyList<string>> WriteAsync(IReadOnlyList<int[]> items)
        {
            lock (_batches)
            {
                _batches.Add(items.Select(i => i.Length).ToArray());
            }

            _firstHeld.TrySetResult();
            await _release.Task;
            return items.Select(i => $"{i.Length}:{string.Join(',', i)}").ToList();
        }
    }

    [Fact]
    public async Task ABatch_StaysWithinTheWeight_AndAHeavierItemGoesAlone_InOrder_EachCallerGettingItsOwnResult()
    {
        var writer = new HeldWriter();
        await using var committer = new GroupCommitter<int[], string>(writer.WriteAsync, maxWeight: 10, weight: items => items.Length);

        // The first call is being written (and held); everything after it queues.
        var first = committer.SubmitAsync([1]);
        await writer.FirstHeld.WaitAsync(TimeSpan.FromSeconds(10));
        var sizes = new[] { 4, 4, 4, 25, 3, 10, 1 };
        var queued = sizes.Select((n, k) => committer.SubmitAsync(Enumerable.Range(k * 100, n).ToArray())).ToList();
        Assert.Single(writer.Batches);

        writer.Release();
        var results = await Task.WhenAll(queued).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("1:1", await first);

        // 4+4 fit in 10 and a third 4 does not; 25 is over the limit and goes alone; 3 and then 10 would be 13.
        Assert.Equal(
            ["1", "4 4", "4", "25", "3", "10", "1"],
            writer.Batches.Select(b => string.Join(' ', b)).ToArray());
        for (var k = 0; k < sizes.Length; k++)
        {
            Assert.Equal($"{sizes[k]}:{string.Join(',', Enumerable.Range(k * 100, sizes[k]))}", results[k]);
        }
    }

    [Fact]
    public async Task WithoutAWeight_TheLimitCountsItems()
    {
        var writer = new HeldWriter();
        await using var committer = new GroupCommitter<int[], string>(writer.WriteAsync, maxWeight: 2);

        var first = committer.SubmitAsync([1]);
        await writer.FirstHeld.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = Enumerable.Range(0, 5).Select(k => committer.SubmitAsync(new int[k * 10])).ToList();

        writer.Release();
        await Task.WhenAll(queued.Append(first)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(["1", "0 10", "20 30", "40"], writer.Batches.Select(b => string.Join(' ', b)).ToArray());
    }

    [Fact]
    public async Task AFailedBatch_FailsEveryCallerInIt_AndTheNextBatchIsStillWritten()
    {
        var calls = 0;
        await using var committer = new GroupCommitter<int, int>(
            items => Interlocked.Increment(ref calls) == 1
                ? Task.FromException<IReadOnlyList<int>>(new InvalidOperationException("store down"))
                : Task.FromResult<IReadOnlyList<int>>(items.Select(i => i * 2).ToList()),
            maxWeight: 100);

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => committer.SubmitAsync(1));
        Assert.Equal("store down", failed.Message);
        Assert.Equal(6, await committer.SubmitAsync(3).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, calls);
    }
}
