using Orleans.Dashboard;
using OrleansWorker.AspNetCore;
using OrleansWorker.ServiceDefaults;
using OrleansWorker.Silo;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultPort(4000);
builder.AddServiceDefaults(defaultServiceName: "worker");
builder.AddWorkerSilo();
builder.Services.AddOrleansWorkerDashboard(builder.Configuration.GetSection(OrleansWorkerDashboardOptions.SectionName));

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrleansWorker();
var ui = app.MapOrleansWorkerDashboard();
app.MapOrleansDashboard(routePrefix: "/dashboard").RequireDashboardAccess(ui, "Orleans dashboard");
app.Run();

/// <summary>The worker host's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
