using System.Threading.Channels;

namespace OrleansWorker.Execution;

/// <summary>
/// Coalesces concurrent writes into one store call (group commit): each caller awaits its own result, which
/// comes only after the batch that carried it was written. A failed batch fails every caller in it.
/// </summary>
internal sealed class GroupCommitter<TItem, TResult> : IAsyncDisposable
{
    private readonly Channel<(TItem Item, TaskCompletionSource<TResult> Done)> _channel =
        Channel.CreateUnbounded<(TItem, TaskCompletionSource<TResult>)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> _write;
    private readonly int _maxBatch;
    private readonly Task _loop;

    public GroupCommitter(Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> write, int maxBatch)
    {
        _write = write;
        _maxBatch = maxBatch;
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
        var items = new List<TItem>(_maxBatch);
        var waiters = new List<TaskCompletionSource<TResult>>(_maxBatch);
        while (await _channel.Reader.WaitToReadAsync())
        {
            while (items.Count < _maxBatch && _channel.Reader.TryRead(out var entry))
            {
                items.Add(entry.Item);
                waiters.Add(entry.Done);
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
