using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansWorker.Client;
using OrleansWorker.Execution;
using OrleansWorker.Hosting;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using OrleansWorker.Tests.Storage;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// One in-process silo with the engine on an embedded store of its own (on this machine's clock), and a client; a test
/// adds handlers, wraps the store, or gives the silo or the client services of its own (a clock).
/// </summary>
internal sealed class SingleSilo : IAsyncDisposable
{
    private readonly string _directory;
    private readonly SqliteKvBackend _backend;

    private SingleSilo(string directory, SqliteKvBackend backend, InProcessTestCluster cluster)
    {
        _directory = directory;
        _backend = backend;
        Cluster = cluster;
        Jobs = cluster.Client.ServiceProvider.GetRequiredService<IJobClient>();
        Engine = cluster.Silos[0].ServiceProvider.GetRequiredService<JobEngine>();
    }

    public InProcessTestCluster Cluster { get; }

    public IJobClient Jobs { get; }

    public JobEngine Engine { get; }

    /// <param name="worker">Adds handlers (the built-in ones are there).</param>
    /// <param name="wrap">Wraps the store the silo uses (it is shared, so the silo does not dispose it).</param>
    /// <param name="siloServices">Services of the silo's own.</param>
    /// <param name="clientServices">Services of the client's own.</param>
    /// <param name="pollInterval"><c>Worker:PollInterval</c> (100 ms unless given).</param>
    public static async Task<SingleSilo> StartAsync(
        Action<OrleansWorkerBuilder>? worker = null,
        Func<IKvBackend, SharedBackend>? wrap = null,
        Action<IServiceCollection>? siloServices = null,
        Action<IServiceCollection>? clientServices = null,
        TimeSpan? pollInterval = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ow-silo-" + Guid.NewGuid().ToString("N"));
        var backend = new SqliteKvBackend(directory, EmbeddedDurability.Process, 8 * 1024 * 1024, TimeProvider.System);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:PollInterval"] = (pollInterval ?? TimeSpan.FromMilliseconds(100)).ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            siloServices?.Invoke(silo.Services);
            silo.AddOrleansWorker(w =>
            {
                w.BindConfiguration(configuration.GetSection("Worker")).AddBuiltInHandlers()
                    .UseBackend(_ => wrap?.Invoke(backend) ?? new SharedBackend(backend));
                worker?.Invoke(w);
            });
        });
        builder.ConfigureClient(client =>
        {
            clientServices?.Invoke(client.Services);
            client.Services.AddJobClient(configuration);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new SingleSilo(directory, backend, cluster);
    }

    /// <summary>Keeps Orleans' own parts (each asks for a <see cref="TimeProvider"/> by a key of its own) on this machine's clock.</summary>
    public static void OrleansOnMachineClock(IServiceCollection services) =>
        services.AddKeyedSingleton<TimeProvider>(KeyedService.AnyKey, (_, _) => TimeProvider.System);

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await _backend.DisposeAsync();
        TempDirectory.Delete(_directory);
    }
}
