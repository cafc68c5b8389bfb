using OrleansWorker.AspNetCore;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using Reports.Jobs;

var builder = WebApplication.CreateBuilder(args);
var settings = builder.Configuration.GetSection("Reports");

builder.UseOrleans(silo =>
{
    // One silo on this machine; its gateway is where Reports.Web connects.
    silo.UseLocalhostClustering(siloPort: settings.GetValue("SiloPort", 11111), gatewayPort: settings.GetValue("GatewayPort", 30000));
    silo.AddOrleansWorker(worker => worker
        .UseEmbeddedJobStore(o => o.DataDirectory = settings["DataDirectory"] ?? "reports-data")
        .AddJob<RenderReportHandler>()
        .AddJob<CallWebhookHandler>()
        .AddJob<ImportCustomersHandler>());
});

builder.Services.AddSingleton(new ReportOutput { Directory = settings["OutputDirectory"] ?? "reports" });
builder.Services.AddHttpClient<CallWebhookHandler>(http => http.Timeout = TimeSpan.FromSeconds(10));
builder.Services.AddJobClient();

var app = builder.Build();
app.MapOrleansWorker();   // GET /jobs/{id}, /jobs?state=…, cancel, retry …
app.MapGet("/", () => "Reports worker: see /jobs");
app.Run();
