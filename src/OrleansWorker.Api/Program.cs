using OrleansWorker.Api;
using OrleansWorker.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultPort(3000);
builder.AddServiceDefaults(defaultServiceName: "api");
builder.AddWorkerClient();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapJobEndpoints();
app.Run();

/// <summary>The API host's entry point (public for WebApplicationFactory).</summary>
public partial class Program;
