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

    /// <summary>The most jobs <c>POST /batches</c> takes (the front-door grain's own limit).</summary>
    private const int MaxBatchMembers = 10_000;

    /// <summary>The API's JSON settings, reading at most <see cref="MaxBatch"/> jobs of a <c>POST /jobs/batch</c> array.</summary>
    private static readonly JsonSerializerOptions JobArrayOptions = new(JobJson.Options)
    {
        Converters = { new BoundedListConverter<JobRequestBody?>(MaxBatch, $"A batch holds at most {MaxBatch} jobs (got more).") },
    };

    /// <summary>The same for the <c>jobs</c> of a <c>POST /batches</c> body, at most <see cref="MaxBatchMembers"/>.</summary>
    private static readonly JsonSerializerOptions BatchBodyOptions = new(JobJson.Options)
    {
        Converters = { new BoundedListConverter<JobRequestBody?>(MaxBatchMembers, $"A batch has at most {MaxBatchMembers} jobs (got more).") },
    };

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
        MapSchedules(api.MapGroup("/schedules").WithTags("Schedules"));
        MapBatches(api.MapGroup("/batches").WithTags("Batches"));
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
        jobs.MapGet("", ListAsync).WithName("ListJobs").WithSummary("List jobs by state, queue and type; without a state: running, queued, scheduled, waiting, then finished, most recently finished first.").Produces<JobPageBody>().ProducesProblem(400).ProducesProblem(503);
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
        var (body, problem) = await ReadBodyAsync<List<JobRequestBody?>>(http, JobArrayOptions);
        if (problem is not null)
        {
            return problem;
        }

        if (body is null || body.Count == 0)
        {
            return Problems.BadRequest("The request body must be a non-empty JSON array of jobs.");
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

    private static void MapSchedules(RouteGroupBuilder schedules)
    {
        schedules.MapGet("", async (IJobClient client, CancellationToken ct) => await Problems.GuardAsync(async () => Json((await client.GetSchedulesAsync(ct)).Select(ScheduleBody.From).ToList())))
            .WithName("ListSchedules").WithSummary("Every recurring job: cron, time zone, job, last fire (and its job's state), next fire.").Produces<ScheduleBody[]>().ProducesProblem(503);
        schedules.MapGet("/{id}", (string id, IJobClient client, CancellationToken ct) => WithScheduleIdAsync(id, async () =>
                await client.GetScheduleAsync(id, ct) is { } schedule ? Json(ScheduleBody.From(schedule)) : ScheduleNotFound(id)))
            .WithName("GetSchedule").Produces<ScheduleBody>().ProducesProblem(404).ProducesProblem(503);
        schedules.MapPut("/{id}", PutScheduleAsync).WithName("SetSchedule")
            .WithSummary("Create or replace a recurring job: cron (5 fields, or 6 with seconds), timeZone (IANA), job, paused, misfire (FireOnce|Skip), overlap (Allow|Skip), startAt, endAt.")
            .Accepts<ScheduleBodyIn>("application/json").Produces<ScheduleBody>().ProducesProblem(400).ProducesProblem(503);
        schedules.MapDelete("/{id}", (string id, IJobClient client, CancellationToken ct) => ScheduleCommandAsync(id, ScheduleCommand.Delete, client, ct))
            .WithName("DeleteSchedule").Produces(StatusCodes.Status204NoContent).ProducesProblem(404).ProducesProblem(503);
        schedules.MapPost("/{id}/pause", (string id, IJobClient client, CancellationToken ct) => ScheduleCommandAsync(id, ScheduleCommand.Pause, client, ct))
            .WithName("PauseSchedule").WithSummary("No tick fires until resumed.").Produces<ScheduleBody>().ProducesProblem(404).ProducesProblem(503);
        schedules.MapPost("/{id}/resume", (string id, IJobClient client, CancellationToken ct) => ScheduleCommandAsync(id, ScheduleCommand.Resume, client, ct))
            .WithName("ResumeSchedule").WithSummary("Continue with the next tick after now.").Produces<ScheduleBody>().ProducesProblem(404).ProducesProblem(503);
        schedules.MapPost("/{id}/trigger", (string id, IJobClient client, CancellationToken ct) => ScheduleCommandAsync(id, ScheduleCommand.Trigger, client, ct))
            .WithName("TriggerSchedule").WithSummary("Submit the schedule's job now (its ticks are unchanged).").Produces<ScheduleBody>(StatusCodes.Status202Accepted).ProducesProblem(404).ProducesProblem(503);
    }

    private static async Task<IResult> PutScheduleAsync(string id, HttpContext http, IJobClient client)
    {
        if (!IsScheduleId(id))
        {
            return BadScheduleId(id);
        }

        var (body, problem) = await ReadBodyAsync<ScheduleBodyIn>(http);
        if (problem is not null)
        {
            return problem;
        }

        if (body?.Cron is null || body.Job is null)
        {
            return Problems.BadRequest("The body must be a JSON object with at least 'cron' and 'job' ({\"type\": …}).");
        }

        var definition = new ScheduleDefinition
        {
            Id = id,
            Cron = body.Cron,
            TimeZone = body.TimeZone ?? "UTC",
            Job = ToRequest(body.Job),
            Paused = body.Paused ?? false,
            Misfire = body.Misfire ?? MisfirePolicy.FireOnce,
            Overlap = body.Overlap ?? OverlapPolicy.Allow,
            StartAt = body.StartAt,
            EndAt = body.EndAt,
        };
        return await Problems.GuardAsync(async () => Json(ScheduleBody.From(await client.PutScheduleAsync(definition, http.RequestAborted))));
    }

    private static Task<IResult> ScheduleCommandAsync(string id, ScheduleCommand command, IJobClient client, CancellationToken ct) =>
        WithScheduleIdAsync(id, async () =>
        {
            var result = await client.ScheduleCommandAsync(id, command, ct);
            return result.Status switch
            {
                JobCommandStatus.NotFound => ScheduleNotFound(id),
                JobCommandStatus.Ok when command == ScheduleCommand.Delete => Results.NoContent(),
                JobCommandStatus.Ok => Json(result.Schedule is null ? null : ScheduleBody.From(result.Schedule), command == ScheduleCommand.Trigger ? StatusCodes.Status202Accepted : StatusCodes.Status200OK),
                _ => Problems.BadRequest(string.Join(" ", result.Errors)),
            };
        });

    private static IResult ScheduleNotFound(string id) => Problems.Create(StatusCodes.Status404NotFound, "Schedule not found", $"No schedule has the id '{id}'.");

    private static Task<IResult> WithScheduleIdAsync(string id, Func<Task<IResult>> action) => WithWordIdAsync("schedule", id, action);

    /// <summary>Runs <paramref name="action"/> for an id of 1–100 characters of [A-Za-z0-9._-] (a schedule's or a batch's); a 400 naming the <paramref name="kind"/> otherwise.</summary>
    private static Task<IResult> WithWordIdAsync(string kind, string id, Func<Task<IResult>> action) =>
        IsScheduleId(id) ? Problems.GuardAsync(action) : Task.FromResult(BadWordId(kind, id));

    private static IResult BadScheduleId(string id) => BadWordId("schedule", id);

    private static IResult BadWordId(string kind, string id) =>
        Problems.BadRequest($"The {kind} id '{(id.Length > 64 ? id[..64] + "…" : id)}' must be 1–100 characters of [A-Za-z0-9._-], not dots alone.");

    private static bool IsScheduleId(string id) =>
        id.Length is >= 1 and <= 100 && id.Trim('.').Length > 0 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static void MapBatches(RouteGroupBuilder batches)
    {
        batches.MapPost("", SubmitBatchJobsAsync).WithName("SubmitBatch")
            .WithSummary("Submit up to 10,000 jobs as one batch, with an optional completion job that runs once all finished (whatever their outcome).")
            .Accepts<BatchBodyIn>("application/json").Produces<BatchCreatedBody>(StatusCodes.Status202Accepted).ProducesProblem(400).ProducesProblem(413).ProducesProblem(503);
        batches.MapGet("/{id}", (string id, IJobClient client, CancellationToken ct) => WithWordIdAsync("batch", id, async () =>
                await client.GetBatchAsync(id, ct) is { } batch ? Json(BatchBody.From(batch)) : Problems.Create(StatusCodes.Status404NotFound, "Batch not found", $"No batch has the id '{id}'.")))
            .WithName("GetBatch").WithSummary("A batch's progress: members by final state, pending, finished, completion job.").Produces<BatchBody>().ProducesProblem(404).ProducesProblem(503);
    }

    private static async Task<IResult> SubmitBatchJobsAsync(HttpContext http, IJobClient client)
    {
        var (body, problem) = await ReadBodyAsync<BatchBodyIn>(http, BatchBodyOptions);
        if (problem is not null)
        {
            return problem;
        }

        if (body?.Jobs is not { Count: > 0 } jobs)
        {
            return Problems.BadRequest("The body must be a JSON object with a non-empty 'jobs' array.");
        }

        var nullAt = jobs.FindIndex(b => b is null);
        if (nullAt >= 0)
        {
            return Problems.Validation([new JobValidationError(nullAt, "", "missing", $"Item {nullAt} is null.")]);
        }

        var request = new BatchRequest { Id = body.Id, Jobs = jobs.Select(j => ToRequest(j!)).ToList(), Completion = body.Completion is { } c ? ToRequest(c) : null };
        return await Problems.GuardAsync(async () =>
        {
            var response = await client.EnqueueBatchAsync(request, http.RequestAborted);
            var created = response.Jobs.Any(j => j.Created);
            if (created && response.Batch is { } b)
            {
                http.Response.Headers.Location = $"{http.Request.PathBase}{http.Request.Path}/{Uri.EscapeDataString(b.Id)}";
            }

            return Json(new BatchCreatedBody(response.Batch is null ? null : BatchBody.From(response.Batch), response.Jobs.Select(r => new BatchItemBody(r.Id, r.State, r.Created)).ToList()),
                created ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
        });
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
            // Enum.TryParse also reads "Scheduled,Running" (as their flags combined, which is another state) and numbers.
            if (state.Contains(',', StringComparison.Ordinal) || !Enum.TryParse<JobState>(state, ignoreCase: true, out var s) || !Enum.IsDefined(s) || int.TryParse(state, out _))
            {
                return Task.FromResult(Problems.BadRequest($"state must be one of {string.Join(", ", JobStates.All)} (was '{state}')."));
            }

            parsed = s;
        }

        if (limit is < 1 or > 1000)
        {
            return Task.FromResult(Problems.BadRequest($"limit must be 1..1000 (was {limit})."));
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
        IsValidId(id) ? Problems.GuardAsync(action) : Task.FromResult(Problems.BadRequest($"The id '{(id.Length > 64 ? id[..64] + "…" : id)}' must be 1–200 characters of [A-Za-z0-9._:-], not dots alone."));

    private static bool IsValidId(string id) =>
        id.Length is >= 1 and <= 200 && id.Trim('.').Length > 0 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');

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
        DependsOn = b.DependsOn,
        ContinueOnDependencyFailure = b.ContinueOnDependencyFailure ?? false,
    };

    /// <summary>Seconds to a TimeSpan; values out of any sane range are clamped so that validation reports them instead of overflowing.</summary>
    private static TimeSpan ToTimeSpan(double seconds) =>
        double.IsNaN(seconds) ? TimeSpan.MinValue : TimeSpan.FromSeconds(Math.Clamp(seconds, -1e9, 1e9));

    private static async Task<(T? Body, IResult? Problem)> ReadBodyAsync<T>(HttpContext http, JsonSerializerOptions? options = null)
    {
        if (!(http.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return (default, Problems.Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type", "Send the body as application/json."));
        }

        try
        {
            return (await JsonSerializer.DeserializeAsync<T>(http.Request.Body, options ?? JobJson.Options, http.RequestAborted), null);
        }
        catch (TooManyItemsException ex)
        {
            return (default, Problems.BadRequest(ex.Message));
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
