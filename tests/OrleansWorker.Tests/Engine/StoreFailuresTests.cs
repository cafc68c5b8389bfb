using System.IO.Pipelines;
using OrleansWorker.Storage;

namespace OrleansWorker.Tests.Engine;

public sealed class StoreFailuresTests
{
    [Fact]
    public async Task APipelineTornDownUnderARead_IsAStoreOutage_NotABug()
    {
        // What StackExchange.Redis' socket reader throws to the commands in flight when a network cut tears the
        // connection down under them (seen in PartitionTests as a 500 from POST /jobs/batch).
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 1 });
        var read = await pipe.Reader.ReadAsync();
        await pipe.Reader.CompleteAsync();
        var torn = Assert.Throws<InvalidOperationException>(() => pipe.Reader.AdvanceTo(read.Buffer.End));

        Assert.True(StoreFailures.IsUnavailable(torn), $"{torn.Source}: {torn.Message}");
        Assert.True(StoreFailures.IsUnavailable(new StackExchange.Redis.RedisConnectionException(StackExchange.Redis.ConnectionFailureType.SocketClosed, "closed")));
        Assert.True(StoreFailures.IsUnavailable(new TimeoutException()));
        Assert.False(StoreFailures.IsUnavailable(new InvalidOperationException("a bug of ours")));
        Assert.False(StoreFailures.IsUnavailable(new ArgumentException("bad input")));
    }

    [Fact]
    public async Task ACommandCancelledByTheRedisClient_IsAStoreOutage_ButACancellationWeAskedFor_IsNot()
    {
        // StackExchange.Redis cancels a command's task itself (no token) when it gives the command up during a cut;
        // seen in PartitionTests as a TaskCanceledException from ScriptEvaluateAsync and a 500 from POST /jobs/batch.
        var command = new TaskCompletionSource<int>();
        Assert.True(command.TrySetCanceled());
        var givenUp = await Assert.ThrowsAsync<TaskCanceledException>(() => command.Task);
        Assert.True(StoreFailures.IsUnavailable(givenUp), "a command cancelled by the client library, with no token behind it");

        using var stopping = new CancellationTokenSource();
        await stopping.CancelAsync();
        var asked = await Assert.ThrowsAsync<TaskCanceledException>(() => Task.Delay(TimeSpan.FromMinutes(1), stopping.Token));
        Assert.False(StoreFailures.IsUnavailable(asked), "a cancellation we asked for (shutdown, a caller's deadline) is not an outage");
        Assert.False(StoreFailures.IsUnavailable(new OperationCanceledException(stopping.Token)));
    }
}
