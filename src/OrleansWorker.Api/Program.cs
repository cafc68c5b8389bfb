using OrleansWorker.Api;
using OrleansWorker.AspNetCore;
using OrleansWorker.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultPort(3000);
builder.AddServiceDefaults(defaultServiceName: "api");
builder.AddWorkerClient();
builder.Services.AddOrleansWorkerDashboard(builder.Configuration.GetSection(OrleansWorkerDashboardOptions.SectionName));

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrleansWorker();
app.MapOrleansWorkerDashboard();
app.Run();

/// <summary>The API host's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
