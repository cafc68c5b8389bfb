using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansWorker.Execution;
using OrleansWorker.Handlers;
using OrleansWorker.Storage;
using StackExchange.Redis;

namespace OrleansWorker.Hosting;

/// <summary>Wires the job engine into a silo.</summary>
public static class WorkerSiloBuilderExtensions
{
    /// <summary>The connection string name whose presence switches everything durable to Redis.</summary>
    public const string RedisConnectionName = "redis";

    /// <summary>
    /// Adds the job engine. With <c>ConnectionStrings:redis</c> set, clustering and job state live in Redis;
    /// without it, the silo is an embedded single node (localhost clustering, in-memory state, not durable).
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="configuration">Configuration with the <c>Worker</c> and <c>Orleans</c> sections and connection strings.</param>
    /// <param name="configureClustering">False when the host sets up clustering itself (e.g. a test cluster).</param>
    public static ISiloBuilder AddOrleansWorker(this ISiloBuilder builder, IConfiguration configuration, bool configureClustering = true)
    {
        var services = builder.Services;
        services.AddOptions<WorkerOptions>().Bind(configuration.GetSection(WorkerOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkerOptions>, WorkerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();

        var redis = configuration.GetConnectionString(RedisConnectionName);
        if (!string.IsNullOrWhiteSpace(redis))
        {
            services.TryAddSingleton<IConnectionMultiplexer>(_ => ConnectRedis(redis));
            services.TryAddSingleton<IJobStore>(sp => new RedisJobStore(sp.GetRequiredService<IConnectionMultiplexer>(), sp.GetRequiredService<IOptions<WorkerOptions>>().Value.KeyPrefix));
            if (configureClustering)
            {
                builder.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(redis));
            }
        }
        else
        {
            services.TryAddSingleton<IJobStore, InMemoryJobStore>();
            if (configureClustering)
            {
                var endpoints = configuration.GetSection("Orleans:Endpoints");
                builder.UseLocalhostClustering(
                    siloPort: endpoints.GetValue("SiloPort", EndpointOptions.DEFAULT_SILO_PORT),
                    gatewayPort: endpoints.GetValue("GatewayPort", EndpointOptions.DEFAULT_GATEWAY_PORT));
            }
        }

        // Every job is a new grain id, so Orleans' directory cache (default 1,000,000 entries) would keep one entry per
        // job ever run: a few hundred MB after a million jobs. A small cache serves the jobs running now.
        services.Configure<GrainDirectoryOptions>(o => o.CacheSize = Math.Min(o.CacheSize, 10_000));

        services.TryAddSingleton<AttemptTracker>();
        services.TryAddSingleton(sp => new JobInstruments(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetRequiredService<AttemptTracker>()));
        services.TryAddSingleton<JobEngine>();
        services.TryAddSingleton<AttemptRunner>();
        services.TryAddSingleton<JobHandlerRegistry>();
        services.TryAddSingleton<JobDispatcher>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILifecycleParticipant<ISiloLifecycle>, JobDispatcher>(sp => sp.GetRequiredService<JobDispatcher>()));

        if (configuration.GetSection(WorkerOptions.SectionName).GetValue(nameof(WorkerOptions.BuiltInHandlers), true))
        {
            services.AddJobHandler<NoopHandler>();
            services.AddJobHandler<EchoHandler>();
            services.AddJobHandler<SleepHandler>();
            services.AddJobHandler<FailHandler>();
        }

        return builder;
    }

    /// <summary>Registers a handler; its <see cref="IJobHandler.Name"/> is the job type it runs.</summary>
    public static IServiceCollection AddJobHandler<THandler>(this IServiceCollection services)
        where THandler : class, IJobHandler
    {
        if (!services.Any(d => d.ServiceType == typeof(THandler)))
        {
            services.AddTransient<THandler>();
            services.AddSingleton(new JobHandlerRegistration(typeof(THandler)));
        }

        return services;
    }

    internal static ConfigurationOptions RedisOptions(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 5000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 5000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 5000);
        return options;
    }

    private static ConnectionMultiplexer ConnectRedis(string connectionString) => ConnectionMultiplexer.Connect(RedisOptions(connectionString));
}
