using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansWorker.Client;
using OrleansWorker.Hosting;

namespace OrleansWorker.Tests.Engine;

/// <summary>Two in-process silos with the engine on the in-memory store, small backoff and a small concurrency limit.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int MaxConcurrentJobs = 4;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IJobClient Jobs { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:MaxConcurrentJobs"] = MaxConcurrentJobs.ToString(),
            ["Worker:RetryBaseDelay"] = "00:00:00.050",
            ["Worker:RetryMaxDelay"] = "00:00:00.200",
            ["Worker:PollInterval"] = "00:00:00.100",
        }).Build();
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddOrleansWorker(configuration, configureClustering: false);
            // One store shared by the silos of this process, as Redis would be.
            silo.Services.AddSingleton<OrleansWorker.Storage.IJobStore>(SharedStore);
        });
        builder.ConfigureClient(client => client.Services.AddJobClient(configuration));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        Jobs = Cluster.Client.ServiceProvider.GetRequiredService<IJobClient>();
    }

    internal OrleansWorker.Storage.InMemoryJobStore SharedStore { get; } = new();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    public Task<JobView> WaitFinishedAsync(string id) =>
        Infrastructure.Poll.UntilAsync(() => Jobs.GetAsync(id)!, j => j is { } v && v.State.IsFinished(), TimeSpan.FromSeconds(20), $"job {id} to finish")!;
}
