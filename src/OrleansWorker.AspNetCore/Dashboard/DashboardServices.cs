using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace OrleansWorker.AspNetCore;

/// <summary>The services of the jobs dashboard.</summary>
public static class DashboardServices
{
    /// <summary>
    /// Adds what <see cref="DashboardEndpoints.MapOrleansWorkerDashboard"/> needs: ASP.NET Core anti-forgery, and its
    /// options, bound from <paramref name="configuration"/> (e.g. the <c>Worker:Dashboard</c> section) and then
    /// <paramref name="configure"/>, validated when the host starts (every problem listed).
    /// </summary>
    public static IServiceCollection AddOrleansWorkerDashboard(this IServiceCollection services, IConfiguration? configuration = null,
        Action<OrleansWorkerDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddAntiforgery();
        var options = services.AddOptions<OrleansWorkerDashboardOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration);
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OrleansWorkerDashboardOptions>, DashboardOptionsValidator>());
        options.ValidateOnStart();
        services.TryAddSingleton<DashboardServicesMarker>();
        return services;
    }
}

/// <summary>Says that <see cref="DashboardServices.AddOrleansWorkerDashboard"/> was called.</summary>
internal sealed class DashboardServicesMarker;

/// <summary>Checks <see cref="OrleansWorkerDashboardOptions"/>: every problem, with the values found.</summary>
internal sealed class DashboardOptionsValidator : IValidateOptions<OrleansWorkerDashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, OrleansWorkerDashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
