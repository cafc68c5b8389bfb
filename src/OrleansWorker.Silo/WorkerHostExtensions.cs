using Orleans.Configuration;
using Orleans.Dashboard;
using OrleansWorker.AspNetCore;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using OrleansWorker.ServiceDefaults;

namespace OrleansWorker.Silo;

/// <summary>Hosts the silo with the job engine, the dashboard and trace propagation.</summary>
public static class WorkerHostExtensions
{
    /// <summary>
    /// Adds the silo and maps configuration onto the engine: <c>Worker:Store</c> = <c>Redis</c> or <c>Embedded</c>
    /// chooses the store; when it is not set, <c>ConnectionStrings:redis</c> being set means Redis, otherwise the
    /// embedded single node. With Redis, clustering is in Redis too; embedded is one silo on localhost.
    /// </summary>
    public static WebApplicationBuilder AddWorkerSilo(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var section = configuration.GetSection(WorkerOptions.SectionName);
        var redis = configuration.GetConnectionString("redis");
        var store = section["Store"] is { Length: > 0 } chosen ? chosen : string.IsNullOrWhiteSpace(redis) ? "Embedded" : "Redis";
        builder.UseOrleans(silo =>
        {
            silo.AddOrleansWorker(worker =>
            {
                worker.BindConfiguration(section);
                if (section.GetValue(nameof(WorkerOptions.BuiltInHandlers), true))
                {
                    worker.AddBuiltInHandlers();
                }

                if (string.Equals(store, "Redis", StringComparison.OrdinalIgnoreCase))
                {
                    worker.UseRedisJobStore(o =>
                    {
                        o.ConnectionString ??= redis;
                    });
                    silo.UseRedisClustering(o => o.ConfigurationOptions = WorkerSiloBuilderExtensions.RedisOptions(
                        string.IsNullOrWhiteSpace(redis) ? section["Redis:ConnectionString"] ?? "" : redis));
                }
                else if (string.Equals(store, "Embedded", StringComparison.OrdinalIgnoreCase))
                {
                    worker.UseEmbeddedJobStore();
                    var endpoints = configuration.GetSection("Orleans:Endpoints");
                    silo.UseLocalhostClustering(
                        siloPort: endpoints.GetValue("SiloPort", EndpointOptions.DEFAULT_SILO_PORT),
                        gatewayPort: endpoints.GetValue("GatewayPort", EndpointOptions.DEFAULT_GATEWAY_PORT));
                }
                else
                {
                    throw new InvalidOperationException($"Worker:Store must be Redis or Embedded (was '{store}').");
                }
            });
            silo.AddDashboard();
            silo.AddActivityPropagation();
        });

        var drain = section.GetValue(nameof(WorkerOptions.DrainTimeout), new WorkerOptions().DrainTimeout);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(15));
        builder.Services.AddJobClient(configuration);
        builder.Services.Configure<OrleansWorkerApiOptions>(section);
        builder.Services.AddSingleton<ILocalSiloStatus, LocalSiloStatus>();
        builder.Services.AddSingleton<IHealthProbe, StoreProbe>();
        builder.Services.AddHostedService<ShutdownWatchdog>();
        return builder;
    }
}

/// <summary>The job store as the engine sees it: answering, and this silo holding its lease.</summary>
internal sealed class StoreProbe(JobStoreHealth store) : IHealthProbe
{
    public string Name => "store";

    public Task CheckAsync(CancellationToken cancellationToken) => store.CheckAsync(cancellationToken);
}

/// <summary>This silo's address and membership status.</summary>
internal sealed class LocalSiloStatus(ILocalSiloDetails silo, IClusterMembershipService membership) : ILocalSiloStatus
{
    public string Address => silo.SiloAddress.ToParsableString();

    public string Status => membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress).ToString();

    public bool IsActive => membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress) == SiloStatus.Active;
}
