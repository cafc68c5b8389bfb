using Orleans.Dashboard;
using OrleansWorker.AspNetCore;
using OrleansWorker.ServiceDefaults;
using OrleansWorker.Silo;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultPort(4000);
builder.AddServiceDefaults(defaultServiceName: "worker");
builder.AddWorkerSilo();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrleansWorker();
app.MapOrleansDashboard(routePrefix: "/dashboard").AddEndpointFilter<ApiKeyFilter>();
app.Run();

/// <summary>The worker host's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
