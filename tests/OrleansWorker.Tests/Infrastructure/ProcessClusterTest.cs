namespace OrleansWorker.Tests.Infrastructure;

/// <summary>Base of the multi-process tests: a fresh <see cref="ProcessCluster"/> (redis-server first) per test.</summary>
public abstract class ProcessClusterTest : IAsyncLifetime
{
    protected ProcessCluster Cluster { get; private set; } = null!;

    public virtual async Task InitializeAsync() => Cluster = await ProcessCluster.StartAsync();

    public virtual async Task DisposeAsync() => await Cluster.DisposeAsync();
}
