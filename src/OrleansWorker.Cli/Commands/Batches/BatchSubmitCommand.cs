using System.CommandLine;
using System.Text.Json;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Batches;

/// <summary><c>ow batches submit --file jobs.json</c>: POST /batches with the file's jobs and an optional completion job.</summary>
internal static class BatchSubmitCommand
{
    public static Command Create()
    {
        var file = new Option<string>("--file", "-f")
        {
            Description = "A JSON array of job requests as 'ow submit' sends them ({\"type\", \"payload\", \"queue\", …}); '-' reads standard input",
            HelpName = "PATH",
            Required = true,
        };
        var id = new Option<string?>("--id") { Description = "The batch's id; members get ids {id}::{n} (submitting an existing id returns that batch) [default: generated]" };
        var completionType = new Option<string?>("--completion-type") { Description = "A job of this type runs once every member finished, whatever the outcome", HelpName = "TYPE" };
        var completionPayload = new Option<string?>("--completion-payload")
        {
            Description = "The completion job's payload as inline JSON [default: {batchId, total, succeeded, deadLettered, cancelled}]",
            HelpName = "JSON",
        };
        var completionQueue = new Option<string?>("--completion-queue") { Description = "The completion job's queue [default: the server's default queue]", HelpName = "QUEUE" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Then follow the batch as 'ow batches get --wait' does (exit code 4 if any job failed)" };
        var waitTimeout = BatchWaitFlow.TimeoutOption("--wait-timeout");

        var command = new Command("submit", "Submit jobs as one batch, with an optional completion job")
        {
            file, id, completionType, completionPayload, completionQueue, wait, waitTimeout,
        };
        command.Validators.Add(result =>
        {
            if ((result.GetResult(completionPayload) is not null || result.GetResult(completionQueue) is not null) && result.GetResult(completionType) is null)
            {
                result.AddError("--completion-payload and --completion-queue need --completion-type.");
            }

            if (result.GetResult(waitTimeout) is not null && !result.GetValue(wait))
            {
                result.AddError("--wait-timeout needs --wait.");
            }
        });

        return command.Runs(async context =>
        {
            var path = context.Get(file)!;
            var jobs = JsonInput.Read(null, path, context.Terminal.In, "jobs")!.Value;
            CheckJobs(jobs, path == "-" ? "standard input" : $"'{path}'");
            var request = new BatchRequest
            {
                Id = context.Get(id),
                Jobs = jobs,
                Completion = context.Get(completionType) is { } type
                    ? Completion(type, JsonInput.Read(context.Get(completionPayload), null, context.Terminal.In, "completion payload", "--completion-payload"), context.Get(completionQueue))
                    : null,
            };

            var submitted = await context.Batches.SubmitAsync(request, context.Cancellation);
            var batch = submitted.Value.Batch;
            if (context.Get(wait))
            {
                var batchId = batch?.Id ?? request.Id ?? throw new ApiUnavailableException("the server accepted the batch but did not name it.");
                if (!context.Json)
                {
                    WriteSubmitted(context.Terminal.Console, submitted, details: false);
                }

                return await BatchWaitFlow.RunAsync(context, batchId, context.Get(waitTimeout));
            }

            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, submitted.Raw);
            }
            else
            {
                WriteSubmitted(context.Terminal.Console, submitted, details: true);
            }

            return ExitCodes.Success;
        });
    }

    /// <summary>The file must hold a non-empty JSON array of objects; the server checks each job's fields.</summary>
    private static void CheckJobs(JsonElement jobs, string source)
    {
        if (jobs.ValueKind != JsonValueKind.Array)
        {
            throw new UsageException($"the jobs from {source} must be a JSON array of job requests, not {Describe(jobs.ValueKind)}.");
        }

        if (jobs.GetArrayLength() == 0)
        {
            throw new UsageException($"the jobs from {source} are an empty array: a batch needs at least one job.");
        }

        var index = 0;
        foreach (var job in jobs.EnumerateArray())
        {
            if (job.ValueKind != JsonValueKind.Object)
            {
                throw new UsageException($"job {index} from {source} must be a JSON object ({{\"type\": …}}), not {Describe(job.ValueKind)}.");
            }

            index++;
        }
    }

    private static JsonElement Completion(string type, JsonElement? payload, string? queue)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            if (payload is { } p)
            {
                writer.WritePropertyName("payload");
                p.WriteTo(writer);
            }

            if (queue is not null)
            {
                writer.WriteString("queue", queue);
            }

            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static void WriteSubmitted(IAnsiConsole console, ApiResult<BatchCreatedView> submitted, bool details)
    {
        var (batch, jobs) = (submitted.Value.Batch, submitted.Value.Jobs);
        var verb = submitted.Status == 200 ? "Batch already exists" : "Submitted batch";
        console.MarkupLine($"{verb}: [bold]{Markup.Escape(batch?.Id ?? "?")}[/] ({jobs.Count} job(s)" +
                           (batch?.CompletionJobId is { } completion ? $", completion job {Markup.Escape(completion)})" : ")"));
        if (details)
        {
            if (batch is not null)
            {
                BatchRendering.WriteDetail(console, batch);
            }

            BatchRendering.WriteMembers(console, jobs);
        }
    }
}
