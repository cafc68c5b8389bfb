using Microsoft.Extensions.DependencyInjection.Extensions;
using OrleansWorker.Client;
using StackExchange.Redis;

namespace OrleansWorker.Api;

/// <summary>Hosts the Orleans client of the worker cluster.</summary>
public static class ApiHostExtensions
{
    /// <summary>Adds the Orleans client (gateways from Redis membership, or the local silo) that keeps retrying until a gateway answers.</summary>
    public static WebApplicationBuilder AddWorkerClient(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.UseOrleansClient(client =>
        {
            client.UseOrleansWorkerCluster(configuration);
            client.AddActivityPropagation();
            client.UseConnectionRetryFilter(async (_, ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                return true;
            });
        });

        if (configuration.GetConnectionString("redis") is { Length: > 0 } redis)
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
