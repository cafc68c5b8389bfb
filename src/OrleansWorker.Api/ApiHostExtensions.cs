using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using OrleansWorker.AspNetCore;
using OrleansWorker.Client;
using StackExchange.Redis;

namespace OrleansWorker.Api;

/// <summary>Hosts the Orleans client of the worker cluster.</summary>
public static class ApiHostExtensions
{
    /// <summary>
    /// Adds the Orleans client — gateways from the Redis membership table when <c>ConnectionStrings:redis</c> is set,
    /// else the local silo's gateway (<c>Orleans:Endpoints:GatewayPort</c>, default 30000) — that keeps retrying until a
    /// gateway answers, and <see cref="IJobClient"/> over it.
    /// </summary>
    public static WebApplicationBuilder AddWorkerClient(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var redis = configuration.GetConnectionString("redis");
        builder.UseOrleansClient(client =>
        {
            if (!string.IsNullOrWhiteSpace(redis))
            {
                client.UseRedisClustering(o =>
                {
                    var options = ConfigurationOptions.Parse(redis);
                    options.AbortOnConnectFail = false;
                    o.ConfigurationOptions = options;
                });
            }
            else
            {
                client.UseLocalhostClustering(configuration.GetSection("Orleans:Endpoints").GetValue("GatewayPort", EndpointOptions.DEFAULT_GATEWAY_PORT));
            }

            client.AddActivityPropagation();
            client.UseConnectionRetryFilter(async (_, ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                return true;
            });
        });
        builder.Services.AddJobClient(configuration);
        builder.Services.Configure<OrleansWorkerApiOptions>(configuration.GetSection("Worker"));

        if (!string.IsNullOrWhiteSpace(redis))
        {
            // Only for /health: the API itself never touches Redis.
            builder.Services.TryAddSingleton<IConnectionMultiplexer>(_ =>
            {
                var options = ConfigurationOptions.Parse(redis);
                options.AbortOnConnectFail = false;
                return ConnectionMultiplexer.Connect(options);
            });
        }

        return builder;
    }
}
