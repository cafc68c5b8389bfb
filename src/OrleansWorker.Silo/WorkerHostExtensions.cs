using Orleans.Dashboard;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using OrleansWorker.ServiceDefaults;

namespace OrleansWorker.Silo;

/// <summary>Hosts the silo with the job engine, the dashboard and trace propagation.</summary>
public static class WorkerHostExtensions
{
    /// <summary>Adds the silo: engine (Redis or embedded), dashboard, activity propagation, and a shutdown budget that fits the drain.</summary>
    public static WebApplicationBuilder AddWorkerSilo(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        builder.UseOrleans(silo =>
        {
            silo.AddOrleansWorker(configuration);
            silo.AddDashboard();
            silo.AddActivityPropagation();
        });

        var drain = configuration.GetSection(WorkerOptions.SectionName).GetValue(nameof(WorkerOptions.DrainTimeout), new WorkerOptions().DrainTimeout);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = drain + TimeSpan.FromSeconds(15));
        builder.Services.AddJobClient(configuration);
        builder.Services.AddSingleton<ILocalSiloStatus, LocalSiloStatus>();
        builder.Services.AddHostedService<ShutdownWatchdog>();
        return builder;
    }
}

/// <summary>This silo's address and membership status.</summary>
internal sealed class LocalSiloStatus(ILocalSiloDetails silo, IClusterMembershipService membership) : ILocalSiloStatus
{
    public string Address => silo.SiloAddress.ToParsableString();

    public string Status => membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress).ToString();

    public bool IsActive => membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress) == SiloStatus.Active;
}
