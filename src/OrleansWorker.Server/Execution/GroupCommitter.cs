using System.Threading.Channels;

namespace OrleansWorker.Execution;

/// <summary>
/// Coalesces concurrent writes into one store call (group commit): each caller awaits its own result, which
/// comes only after the batch that carried it was written. A failed batch fails every caller in it.
/// </summary>
/// <remarks>
/// A batch takes items in the order they came while their total weight stays within the limit; an item heavier than
/// the limit goes alone, never split. One batch is written at a time.
/// </remarks>
internal sealed class GroupCommitter<TItem, TResult> : IAsyncDisposable
{
    private readonly Channel<(TItem Item, TaskCompletionSource<TResult> Done)> _channel =
        Channel.CreateUnbounded<(TItem, TaskCompletionSource<TResult>)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> _write;
    private readonly int _maxWeight;
    private readonly Func<TItem, int> _weight;
    private readonly Task _loop;

    /// <param name="write">Writes one batch; returns one result per item, in order.</param>
    /// <param name="maxWeight">The largest total weight of a batch (of more than one item).</param>
    /// <param name="weight">An item's weight; 1 when not given (then <paramref name="maxWeight"/> counts items).</param>
    public GroupCommitter(Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> write, int maxWeight, Func<TItem, int>? weight = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWeight, 1);
        _write = write;
        _maxWeight = maxWeight;
        _weight = weight ?? (_ => 1);
        _loop = Task.Run(RunAsync);
    }

    public Task<TResult> SubmitAsync(TItem item)
    {
        var done = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_channel.Writer.TryWrite((item, done)))
        {
            done.SetException(new ObjectDisposedException(nameof(GroupCommitter<TItem, TResult>), "The store writer has stopped."));
        }

        return done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _loop;
    }

    private async Task RunAsync()
    {
        var items = new List<TItem>();
        var waiters = new List<TaskCompletionSource<TResult>>();
        while (await _channel.Reader.WaitToReadAsync())
        {
            // The only reader: what it peeks at is what it reads next.
            var total = 0;
            while (_channel.Reader.TryPeek(out var next)
                && (items.Count == 0 || total + _weight(next.Item) <= _maxWeight)
                && _channel.Reader.TryRead(out var entry))
            {
                items.Add(entry.Item);
                waiters.Add(entry.Done);
                total += _weight(entry.Item);
            }

            try
            {
                var results = await _write(items);
                for (var i = 0; i < waiters.Count; i++)
                {
                    waiters[i].TrySetResult(results[i]);
                }
            }
            catch (Exception ex)
            {
                foreach (var waiter in waiters)
                {
                    waiter.TrySetException(ex);
                }
            }

            items.Clear();
            waiters.Clear();
        }
    }
}
