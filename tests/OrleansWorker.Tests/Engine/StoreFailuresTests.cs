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
}
