using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace OrleansWorker.Client;

/// <summary>Wires <see cref="IJobClient"/> into a process that hosts an Orleans client (or a silo).</summary>
public static class JobClientExtensions
{
    /// <summary>Adds <see cref="IJobClient"/> over whatever <see cref="IGrainFactory"/> the process has.</summary>
    public static IServiceCollection AddJobClient(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobClientOptions>()
            .Bind(configuration.GetSection(JobClientOptions.SectionName))
            .Validate(o => o.CallTimeout > TimeSpan.Zero && o.CallTimeout <= TimeSpan.FromMinutes(5), "Worker:Client:CallTimeout must be in (0, 5 min].")
            .ValidateOnStart();
        services.TryAddSingleton<IJobClient, JobClient>();
        return services;
    }

    /// <summary>
    /// Configures an Orleans client for the worker cluster: gateways from the Redis membership table when
    /// <c>ConnectionStrings:redis</c> is set, else the local silo's gateway (<c>Orleans:Endpoints:GatewayPort</c>, default 30000).
    /// </summary>
    public static IClientBuilder UseOrleansWorkerCluster(this IClientBuilder builder, IConfiguration configuration)
    {
        var redis = configuration.GetConnectionString("redis");
        if (!string.IsNullOrWhiteSpace(redis))
        {
            builder.UseRedisClustering(o =>
            {
                var options = ConfigurationOptions.Parse(redis);
                options.AbortOnConnectFail = false;
                o.ConfigurationOptions = options;
            });
        }
        else
        {
            builder.UseLocalhostClustering(configuration.GetSection("Orleans:Endpoints").GetValue("GatewayPort", EndpointOptions.DEFAULT_GATEWAY_PORT));
        }

        builder.Services.AddJobClient(configuration);
        return builder;
    }
}
