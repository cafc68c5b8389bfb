using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansWorker.Client;

/// <summary>Wires <see cref="IJobClient"/> into a process that hosts an Orleans client (or a silo).</summary>
public static class JobClientExtensions
{
    /// <summary>
    /// Adds <see cref="IJobClient"/> over whatever <see cref="IGrainFactory"/> the process has (an Orleans client or a
    /// silo), with options bound from <c>Worker:Client</c> when <paramref name="configuration"/> is given. Safe to call twice.
    /// </summary>
    public static IServiceCollection AddJobClient(this IServiceCollection services, IConfiguration? configuration = null, Action<JobClientOptions>? configure = null)
    {
        var options = services.AddOptions<JobClientOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(JobClientOptions.SectionName));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => o.CallTimeout > TimeSpan.Zero && o.CallTimeout <= TimeSpan.FromMinutes(5), "Worker:Client:CallTimeout must be in (0, 5 min].").ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IJobClient, JobClient>();
        return services;
    }
}
