using System.Collections.Concurrent;
using System.Text.Json;
using OrleansWorker;
using OrleansWorker.Client;
using Reports.Jobs;

var builder = WebApplication.CreateBuilder(args);
builder.UseOrleansClient(client => client.UseLocalhostClustering(builder.Configuration.GetValue("Reports:GatewayPort", 30000)));
builder.Services.AddJobClient();
builder.Services.AddSingleton<ReceivedHooks>();

var app = builder.Build();

// Reports: enqueue, then poll for the typed result.
app.MapPost("/reports", async (RenderReport request, IJobClient jobs, CancellationToken ct) =>
{
    var job = await jobs.EnqueueAsync(request, new JobOptions { Queue = "reports", MaxAttempts = 3 }, ct);
    return Results.Accepted($"/reports/{job.Id}", new { job.Id });
});
app.MapGet("/reports/{id}", async (string id, IJobClient jobs, CancellationToken ct) =>
    await jobs.GetAsync(id, ct) is { } job
        ? Results.Ok(new { job.Id, job.State, job.Progress, Report = job.State == JobState.Succeeded ? job.GetResult<RenderedReport>() : null, Error = job.LastError?.Message })
        : Results.NotFound());

// Webhooks, retried with backoff on 5xx, deferred on 429.
app.MapPost("/webhooks", async (CallWebhook request, IJobClient jobs, CancellationToken ct) =>
    Results.Accepted(null, new { (await jobs.EnqueueAsync(request, new JobOptions { MaxAttempts = 5 }, ct)).Id }));

// Long imports with progress and cancellation.
app.MapPost("/imports", async (ImportCustomers request, IJobClient jobs, CancellationToken ct) =>
    Results.Accepted(null, new { (await jobs.EnqueueAsync(request, new JobOptions { Queue = "imports", Timeout = TimeSpan.FromMinutes(30) }, ct)).Id }));
app.MapGet("/imports/{id}", async (string id, IJobClient jobs, CancellationToken ct) =>
    await jobs.GetAsync(id, ct) is { } job ? Results.Ok(new { job.Id, job.State, job.Progress, Summary = job.GetResult<ImportSummary>() }) : Results.NotFound());
app.MapPost("/imports/{id}/cancel", async (string id, IJobClient jobs, CancellationToken ct) =>
    (await jobs.CancelAsync(id, ct)).Status switch
    {
        JobCommandStatus.Ok => Results.Ok(),
        JobCommandStatus.NotFound => Results.NotFound(),
        _ => Results.Conflict(),
    });

// A webhook receiver to try /webhooks against: answers 429 to the first call of each job, then 200.
app.MapPost("/hooks/receive", (HttpRequest request, JsonElement body, ReceivedHooks hooks) =>
{
    var job = request.Headers["X-Job-Id"].ToString();
    return hooks.Receive(job, body) == 1
        ? Results.StatusCode(StatusCodes.Status429TooManyRequests)
        : Results.Ok();
});
app.MapGet("/hooks/received", (ReceivedHooks hooks) => hooks.All);

app.Run();

/// <summary>What the demo receiver got, by job id.</summary>
internal sealed class ReceivedHooks
{
    private readonly ConcurrentDictionary<string, List<JsonElement>> _byJob = new();

    public int Receive(string job, JsonElement body)
    {
        var list = _byJob.GetOrAdd(job, _ => []);
        lock (list)
        {
            list.Add(body.Clone());
            return list.Count;
        }
    }

    public IReadOnlyDictionary<string, int> All => _byJob.ToDictionary(p => p.Key, p => p.Value.Count);
}
