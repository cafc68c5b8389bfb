using System.CommandLine;
using System.Text.Json;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow submit &lt;type&gt;</c>: POST /jobs with every job option, optionally waiting for the outcome.</summary>
internal static class SubmitCommand
{
    public static Command Create()
    {
        var type = new Argument<string>("type") { Description = "The job type: a handler registered on the workers (built in: noop, echo, sleep, fail)" };
        var payload = new Option<string?>("--payload", "-p") { Description = "The payload as inline JSON, e.g. '{\"ms\":1500}'", HelpName = "JSON" };
        var payloadFile = new Option<string?>("--payload-file", "-f") { Description = "Read the payload JSON from a file; '-' reads standard input", HelpName = "PATH" };
        var id = new Option<string?>("--id") { Description = "The job's id (submitting an existing id returns that job: idempotent) [default: generated]" };
        var queue = new Option<string?>("--queue", "-q") { Description = "The queue [default: the server's default queue]" };
        var priority = new Option<int?>("--priority") { Description = "Higher runs first within the queue [default: 0]" };
        var maxAttempts = new Option<int?>("--max-attempts") { Description = "Attempts before the job is dead-lettered [default: the server's]" };
        var timeout = new Option<double?>("--timeout") { Description = "The time limit of each attempt [default: the server's]", HelpName = "SECONDS" };
        var delay = new Option<double?>("--delay") { Description = "Run no earlier than this many seconds from now", HelpName = "SECONDS" };
        var runAt = new Option<DateTimeOffset?>("--run-at") { Description = "Run no earlier than this time (ISO 8601, e.g. 2027-01-31T08:00:00Z; the server takes up to a year ahead)", HelpName = "TIME" };
        var dependsOn = new Option<string[]>("--depends-on")
        {
            Description = "Run only once this job succeeded (the job waits in state Waiting); repeat, or separate ids with commas, for several",
            HelpName = "ID",
        };
        var continueOnFailure = new Option<bool>("--continue-on-failure")
        {
            Description = "With --depends-on: run once the dependencies finished whatever their outcome [default: a failed dependency cancels this job]",
        };
        var uniqueKey = new Option<string?>("--unique-key")
        {
            Description = "While a job with this key is unfinished (and --unique-for after), submitting another returns that job instead",
            HelpName = "KEY",
        };
        var uniqueFor = new Option<double?>("--unique-for") { Description = "With --unique-key: keep deduplicating this long after the job finished", HelpName = "SECONDS" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Then wait for the job as 'ow wait' does (exit code 4 when it fails)" };
        var waitTimeout = JobWaitFlow.TimeoutOption("--wait-timeout");
        timeout.MustBePositive();
        delay.MustBePositive();
        uniqueFor.MustBePositive();

        var command = new Command("submit", "Submit a job")
        {
            type, payload, payloadFile, id, queue, priority, maxAttempts, timeout, delay, runAt, dependsOn, continueOnFailure, uniqueKey, uniqueFor,
            wait, waitTimeout,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(payload) is not null && result.GetResult(payloadFile) is not null)
            {
                result.AddError("--payload and --payload-file cannot be used together.");
            }

            if (result.GetResult(delay) is not null && result.GetResult(runAt) is not null)
            {
                result.AddError("--delay and --run-at cannot be used together.");
            }

            if (result.GetResult(waitTimeout) is not null && !result.GetValue(wait))
            {
                result.AddError("--wait-timeout needs --wait.");
            }

            // An empty id (--depends-on "", or "a,,b": often an unset shell variable) is an error, not a dependency
            // silently dropped: the job would run at once.
            if (result.GetResult(dependsOn) is { } given && given.Tokens.Any(t => t.Value.Split(',').Any(string.IsNullOrWhiteSpace)))
            {
                result.AddError("--depends-on has an empty job id.");
            }

            if (result.GetValue(continueOnFailure) && result.GetResult(dependsOn) is null)
            {
                result.AddError("--continue-on-failure needs --depends-on.");
            }

            if (result.GetResult(uniqueFor) is not null && result.GetResult(uniqueKey) is null)
            {
                result.AddError("--unique-for needs --unique-key.");
            }
        });

        return command.Runs(async context =>
        {
            var request = new SubmitJobRequest
            {
                Type = context.Get(type)!,
                Payload = ReadPayload(context.Get(payload), context.Get(payloadFile), context.Terminal.In),
                Id = context.Get(id),
                Queue = context.Get(queue),
                Priority = context.Get(priority),
                MaxAttempts = context.Get(maxAttempts),
                TimeoutSeconds = context.Get(timeout),
                DelaySeconds = context.Get(delay),
                RunAt = context.Get(runAt),
                DependsOn = Ids(context.Get(dependsOn)),
                ContinueOnDependencyFailure = context.Get(continueOnFailure) ? true : null,
                UniqueKey = context.Get(uniqueKey),
                UniqueForSeconds = context.Get(uniqueFor),
            };

            var submitted = await context.Jobs.SubmitAsync(request, context.Cancellation);
            var job = submitted.Value;
            if (context.Get(wait))
            {
                if (!context.Json)
                {
                    WriteSubmitted(context.Terminal.Console, submitted);
                }

                return await JobWaitFlow.RunAsync(context, job.Id, context.Get(waitTimeout));
            }

            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, submitted.Raw);
            }
            else
            {
                WriteSubmitted(context.Terminal.Console, submitted);
            }

            return ExitCodes.Success;
        });
    }

    /// <summary>The payload from <c>--payload</c>, a file or stdin, checked to be JSON before anything is sent.</summary>
    internal static JsonElement? ReadPayload(string? inline, string? file, TextReader stdin) => JsonInput.Read(inline, file, stdin, "payload");

    /// <summary>The ids of every --depends-on, comma-separated lists split (job ids cannot hold commas), or null when none.</summary>
    private static List<string>? Ids(string[]? values)
    {
        var ids = (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        return ids.Count == 0 ? null : ids;
    }

    private static void WriteSubmitted(IAnsiConsole console, ApiResult<JobView> submitted)
    {
        var job = submitted.Value;
        var verb = submitted.Status != 200 ? "Submitted"
            : job.UniqueKey is { } key ? $"Job already exists for unique key '{Markup.Escape(key)}'"
            : "Job already exists";
        console.MarkupLine($"{verb}: [bold]{Markup.Escape(job.Id)}[/] ({Markup.Escape(job.Type)}, queue {Markup.Escape(job.Queue)}) {JobRendering.State(job.State)}");
    }
}
