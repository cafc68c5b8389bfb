using OrleansWorker.Api;
using OrleansWorker.AspNetCore;
using OrleansWorker.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultPort(3000);
builder.AddServiceDefaults(defaultServiceName: "api");
builder.AddWorkerClient();
builder.Services.AddAntiforgery();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapOrleansWorker();
app.MapOrleansWorkerDashboard("/ui", o => app.Configuration.GetSection(OrleansWorkerDashboardOptions.SectionName).Bind(o));
app.Run();

/// <summary>The API host's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
