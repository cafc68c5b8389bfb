using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OrleansWorker.Client;

namespace OrleansWorker.AspNetCore;

/// <summary>The job HTTP API, for any ASP.NET Core app that has an <see cref="IJobClient"/> (a silo or an Orleans client).</summary>
public static class JobEndpoints
{
    /// <summary>Largest batch <c>POST /jobs/batch</c> accepts.</summary>
    public const int MaxBatch = 1000;

    /// <summary>
    /// Maps the job API under <paramref name="prefix"/> (<c>{prefix}/jobs</c> …), guarded by the API key when one is set.
    /// Returns the group, so that the host can add its own conventions: <c>app.MapOrleansWorker().RequireAuthorization("ops")</c>.
    /// </summary>
    public static RouteGroupBuilder MapOrleansWorker(this IEndpointRouteBuilder app, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup(prefix).AddEndpointFilter<ApiKeyFilter>();
        MapJobs(api.MapGroup("/jobs").WithTags("Jobs"));
        MapQueues(api.MapGroup("/queues").WithTags("Queues"));
        api.MapGet("/stats", StatsAsync).WithTags("Stats").WithName("GetStats").WithSummary("Jobs by state and queue, and the silos with what they run.")
            .Produces<JobStats>().ProducesProblem(503);
        return api;
    }

    private static void MapJobs(RouteGroupBuilder jobs)
    {

        jobs.MapPost("", SubmitAsync).WithName("SubmitJob").WithSummary("Submit a job.")
            .Accepts<JobRequestBody>("application/json").Produces<JobViewBody>(StatusCodes.Status202Accepted).Produces<JobViewBody>().ProducesProblem(400).ProducesProblem(413).ProducesProblem(503);
        jobs.MapPost("/batch", SubmitBatchAsync).WithName("SubmitJobs").WithSummary("Submit up to 1,000 jobs as a whole.")
            .Accepts<JobRequestBody[]>("application/json").Produces<BatchItemBody[]>(StatusCodes.Status202Accepted).ProducesProblem(400).ProducesProblem(413).ProducesProblem(503);
        jobs.MapGet("/{id}", GetAsync).WithName("GetJob").Produces<JobViewBody>().ProducesProblem(404).ProducesProblem(503);
        jobs.MapGet("", ListAsync).WithName("ListJobs").WithSummary("List jobs, newest first, by state, queue and type.").Produces<JobPageBody>().ProducesProblem(400).ProducesProblem(503);
        jobs.MapPost("/{id}/cancel", CancelAsync).WithName("CancelJob").Produces<JobViewBody>().ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        jobs.MapPost("/{id}/retry", RetryAsync).WithName("RetryJob").WithSummary("Requeue a DeadLettered or Cancelled job; its attempt count starts again.")
            .Produces<JobViewBody>(StatusCodes.Status202Accepted).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        jobs.MapDelete("/{id}", DeleteAsync).WithName("DeleteJob").Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(409).ProducesProblem(503);
        jobs.MapGet("/{id}/wait", WaitAsync).WithName("WaitForJob").WithSummary("Wait up to timeoutSeconds (≤ 60) for the job to finish.").Produces<JobViewBody>().ProducesProblem(404).ProducesProblem(503);
    }

    private static async Task<IResult> SubmitAsync(HttpContext http, IJobClient client)
    {
        var (body, problem) = await ReadBodyAsync<JobRequestBody>(http);
        if (problem is not null)
        {
            return problem;
        }

        if (body is null)
        {
            return Problems.BadRequest("The request body must be a JSON object with at least a 'type'.");
        }

        return await Problems.GuardAsync(async () =>
        {
            var result = await client.EnqueueAsync(ToRequest(body), http.RequestAborted);
            object? view;
            try
            {
                view = await client.GetAsync(result.Id, http.RequestAborted) is { } job ? JobViewBody.From(job) : null;
            }
            catch (JobServiceUnavailableException)
            {
                // The job is stored; only reading it back failed. Say what is known rather than turn success into 503.
                view = new BatchItemBody(result.Id, result.State, result.Created);
            }

            if (!result.Created)
            {
                return Json(view);
            }

            http.Response.Headers.Location = $"{http.Request.PathBase}{http.Request.Path}/{Uri.EscapeDataString(result.Id)}";
            return Json(view, StatusCodes.Status202Accepted);
        });
    }

    private static async Task<IResult> SubmitBatchAsync(HttpContext http, IJobClient client)
    {
        var (body, problem) = await ReadBodyAsync<List<JobRequestBody?>>(http);
        if (problem is not null)
        {
            return problem;
        }

        if (body is null || body.Count == 0)
        {
            return Problems.BadRequest("The request body must be a non-empty JSON array of jobs.");
        }

        if (body.Count > MaxBatch)
        {
            return Problems.BadRequest($"A batch holds at most {MaxBatch} jobs (got {body.Count}).");
        }

        var nullAt = body.FindIndex(b => b is null);
        if (nullAt >= 0)
        {
            return Problems.Validation([new JobValidationError(nullAt, "", "missing", $"Item {nullAt} is null.")]);
        }

        return await Problems.GuardAsync(async () =>
        {
            var results = await client.EnqueueManyAsync(body.Select(b => ToRequest(b!)).ToList(), http.RequestAborted);
            return Json(results.Select(r => new BatchItemBody(r.Id, r.State, r.Created)).ToList(), StatusCodes.Status202Accepted);
        });
    }

    private static void MapQueues(RouteGroupBuilder queues)
    {
        queues.MapGet("", async (IJobClient client, CancellationToken ct) => await Problems.GuardAsync(async () => Json((await client.GetQueuesAsync(ct)).Select(QueueBody.From).ToList())))
            .WithName("ListQueues").WithSummary("Every queue: settings (pause, limits) and jobs by state.").Produces<QueueBody[]>().ProducesProblem(503);
        queues.MapGet("/{name}", async (string name, IJobClient client, CancellationToken ct) => await Problems.GuardAsync(async () =>
                (await client.GetQueuesAsync(ct)).FirstOrDefault(q => q.Name == name) is { } queue ? Json(QueueBody.From(queue)) : Problems.Create(StatusCodes.Status404NotFound, "Queue not found", $"No queue is named '{name}' (a queue exists once a job was submitted to it or its settings were set).")))
            .WithName("GetQueue").Produces<QueueBody>().ProducesProblem(404).ProducesProblem(503);
        queues.MapPut("/{name}", PutQueueAsync).WithName("SetQueue").WithSummary("Set a queue's settings as a whole: paused, maxConcurrency (cluster-wide), rateLimit {limit, periodSeconds}.")
            .Accepts<QueueSettingsBody>("application/json").Produces<QueueBody>().ProducesProblem(400).ProducesProblem(503);
        queues.MapPost("/{name}/pause", (string name, IJobClient client, CancellationToken ct) => UpdateQueueAsync(client, name, new QueueSettingsUpdate { Paused = true }, ct))
            .WithName("PauseQueue").WithSummary("Nothing new of the queue starts; running jobs finish.").Produces<QueueBody>().ProducesProblem(400).ProducesProblem(503);
        queues.MapPost("/{name}/resume", (string name, IJobClient client, CancellationToken ct) => UpdateQueueAsync(client, name, new QueueSettingsUpdate { Paused = false }, ct))
            .WithName("ResumeQueue").Produces<QueueBody>().ProducesProblem(400).ProducesProblem(503);
    }

    private static async Task<IResult> PutQueueAsync(string name, HttpContext http, IJobClient client)
    {
        var (body, problem) = await ReadBodyAsync<QueueSettingsBody>(http);
        if (problem is not null)
        {
            return problem;
        }

        body ??= new QueueSettingsBody();
        var update = new QueueSettingsUpdate
        {
            Paused = body.Paused ?? false,
            MaxConcurrency = body.MaxConcurrency,
            ClearMaxConcurrency = body.MaxConcurrency is null,
            RateLimit = body.RateLimit is { } r ? new QueueRateLimit(r.Limit, ToTimeSpan(r.PeriodSeconds)) : null,
            ClearRateLimit = body.RateLimit is null,
        };
        return await UpdateQueueAsync(client, name, update, http.RequestAborted);
    }

    private static Task<IResult> UpdateQueueAsync(IJobClient client, string name, QueueSettingsUpdate update, CancellationToken ct) =>
        Problems.GuardAsync(async () => Json(QueueBody.From(await client.UpdateQueueAsync(name, update, ct))));

    private static Task<IResult> StatsAsync(IJobClient client, CancellationToken ct) =>
        Problems.GuardAsync(async () => Json(await client.GetStatsAsync(ct)));

    private static Task<IResult> GetAsync(string id, IJobClient client, CancellationToken ct) =>
        WithIdAsync(id, async () => await client.GetAsync(id, ct) is { } job ? Json(JobViewBody.From(job)) : Problems.NotFound(id));

    private static Task<IResult> ListAsync(IJobClient client, string? state, string? queue, string? type, int? limit, string? cursor, CancellationToken ct)
    {
        JobState? parsed = null;
        if (!string.IsNullOrEmpty(state))
        {
            if (!Enum.TryParse<JobState>(state, ignoreCase: true, out var s) || !Enum.IsDefined(s) || int.TryParse(state, out _))
            {
                return Task.FromResult(Problems.BadRequest($"state must be one of {string.Join(", ", JobStates.All)} (was '{state}')."));
            }

            parsed = s;
        }

        if (limit is < 1 or > 1000)
        {
            return Task.FromResult(Problems.BadRequest($"limit must be 1..1000 (was {limit})."));
        }

        if (!string.IsNullOrEmpty(cursor) && !cursor.Contains('~', StringComparison.Ordinal))
        {
            return Task.FromResult(Problems.BadRequest($"cursor '{cursor}' is not one this API returned."));
        }

        var query = new JobListQuery { State = parsed, Queue = NullIfEmpty(queue), Type = NullIfEmpty(type), Limit = limit ?? 100, Cursor = NullIfEmpty(cursor) };
        return Problems.GuardAsync(async () =>
        {
            var page = await client.ListAsync(query, ct);
            return Json(new JobPageBody(page.Items.Select(JobViewBody.From).ToList(), page.NextCursor));
        });
    }

    private static Task<IResult> CancelAsync(string id, IJobClient client, CancellationToken ct) =>
        WithIdAsync(id, async () => Command(id, await client.CancelAsync(id, ct), StatusCodes.Status200OK));

    private static Task<IResult> RetryAsync(string id, IJobClient client, CancellationToken ct) =>
        WithIdAsync(id, async () => Command(id, await client.RetryAsync(id, ct), StatusCodes.Status202Accepted));

    private static Task<IResult> DeleteAsync(string id, IJobClient client, CancellationToken ct) =>
        WithIdAsync(id, async () => Command(id, await client.DeleteAsync(id, ct), StatusCodes.Status204NoContent));

    private static Task<IResult> WaitAsync(string id, IJobClient client, double? timeoutSeconds, CancellationToken ct)
    {
        if (timeoutSeconds is < 0 or > 60 || (timeoutSeconds is { } t && double.IsNaN(t)))
        {
            return Task.FromResult(Problems.BadRequest($"timeoutSeconds must be 0..60 (was {timeoutSeconds})."));
        }

        return WithIdAsync(id, async () =>
            await client.WaitAsync(id, TimeSpan.FromSeconds(timeoutSeconds ?? 30), ct) is { } job ? Json(JobViewBody.From(job)) : Problems.NotFound(id));
    }

    private static IResult Command(string id, JobCommandResult result, int okStatus) => result.Status switch
    {
        JobCommandStatus.NotFound => Problems.NotFound(id),
        JobCommandStatus.Conflict => Problems.Conflict(result.Reason ?? "The job's state does not allow this.", result.Job?.State),
        _ when okStatus == StatusCodes.Status204NoContent => Results.NoContent(),
        _ => Json(result.Job is null ? null : JobViewBody.From(result.Job), okStatus),
    };

    private static Task<IResult> WithIdAsync(string id, Func<Task<IResult>> action) =>
        IsValidId(id) ? Problems.GuardAsync(action) : Task.FromResult(Problems.BadRequest($"The id '{(id.Length > 64 ? id[..64] + "…" : id)}' must be 1–200 characters of [A-Za-z0-9._:-]."));

    private static bool IsValidId(string id) =>
        id.Length is >= 1 and <= 200 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');

    private static JobRequest ToRequest(JobRequestBody b) => new(b.Type ?? "", b.Payload is { } p ? p.GetRawText() : null)
    {
        Id = b.Id,
        Queue = b.Queue,
        Priority = b.Priority ?? 0,
        MaxAttempts = b.MaxAttempts,
        Timeout = b.TimeoutSeconds is { } t ? ToTimeSpan(t) : null,
        RunAt = b.RunAt,
        Delay = b.DelaySeconds is { } d ? ToTimeSpan(d) : null,
        UniqueKey = b.UniqueKey,
        UniqueFor = b.UniqueForSeconds is { } u ? ToTimeSpan(u) : null,
    };

    /// <summary>Seconds to a TimeSpan; values out of any sane range are clamped so that validation reports them instead of overflowing.</summary>
    private static TimeSpan ToTimeSpan(double seconds) =>
        double.IsNaN(seconds) ? TimeSpan.MinValue : TimeSpan.FromSeconds(Math.Clamp(seconds, -1e9, 1e9));

    private static async Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpContext http)
    {
        if (!(http.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return (default, Problems.Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", "Send the body as application/json."));
        }

        try
        {
            return (await JsonSerializer.DeserializeAsync<T>(http.Request.Body, JobJson.Options, http.RequestAborted), null);
        }
        catch (JsonException ex)
        {
            return (default, Problems.BadRequest($"The body is not valid JSON for this request: {ex.Message}"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, Problems.Create(StatusCodes.Status413PayloadTooLarge, "Payload too large", ex.Message));
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>JSON in the API's own settings (camelCase, enums as strings), whatever the host's global JSON options are.</summary>
    internal static IResult Json(object? value, int status = StatusCodes.Status200OK) => Results.Json(value, JobJson.Options, statusCode: status);
}
