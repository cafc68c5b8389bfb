using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using OrleansWorker.Tests.Storage;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// Two in-process silos with the engine on one embedded (SQLite) store they share, as two silos share Redis; small
/// backoff and a small concurrency limit.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int MaxConcurrentJobs = 4;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ow-cluster-" + Guid.NewGuid().ToString("N"));
    private SqliteKvBackend? _backend;

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IJobClient Jobs { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _backend = new SqliteKvBackend(_directory, EmbeddedDurability.Process, 8 * 1024 * 1024, TimeProvider.System);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:MaxConcurrentJobs"] = MaxConcurrentJobs.ToString(),
            ["Worker:RetryBaseDelay"] = "00:00:00.050",
            ["Worker:RetryMaxDelay"] = "00:00:00.200",
            ["Worker:PollInterval"] = "00:00:00.100",
        }).Build();
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo.AddOrleansWorker(w => w
            .BindConfiguration(configuration.GetSection("Worker"))
            .AddBuiltInHandlers()
            .AddJob<Library.GreetHandler>()
            .AddJob<Library.StrictHandler>()
            .AddJob<Library.ThrottledHandler>()
            .AddJob<Library.CountingHandler>("counting")
            .AddJob<Library.SiloHandler>("where")
            .AddJob<NotJsonHandler>("not-json")
            .UseBackend(_ => new SharedBackend(_backend))));
        builder.ConfigureClient(client => client.Services.AddJobClient(configuration));
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        Jobs = Cluster.Client.ServiceProvider.GetRequiredService<IJobClient>();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        if (_backend is not null)
        {
            await _backend.DisposeAsync();
        }

        TempDirectory.Delete(_directory);
    }

    public Task<JobView> WaitFinishedAsync(string id) =>
        Infrastructure.Poll.UntilAsync(() => Jobs.GetAsync(id)!, j => j is { } v && v.State.IsFinished(), TimeSpan.FromSeconds(20), $"job {id} to finish")!;
}
