using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Hosting;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Schedules;

/// <summary><c>ow schedules set &lt;id&gt; --cron … --type …</c>: PUT /schedules/{id}, creating or replacing the schedule as a whole.</summary>
internal static class ScheduleSetCommand
{
    public static readonly string[] MisfirePolicies = ["FireOnce", "Skip"];
    public static readonly string[] OverlapPolicies = ["Allow", "Skip"];

    public static Command Create()
    {
        var id = ScheduleCommands.Id();
        var cron = new Option<string>("--cron")
        {
            Description = "When: 5 fields (minute hour day month weekday, e.g. \"0 3 * * *\") or 6 with seconds first",
            HelpName = "EXPR",
            Required = true,
        };
        var type = new Option<string>("--type", "-t") { Description = "The job type each tick submits", HelpName = "TYPE", Required = true };
        var payload = new Option<string?>("--payload", "-p") { Description = "The job's payload as inline JSON", HelpName = "JSON" };
        var payloadFile = new Option<string?>("--payload-file", "-f") { Description = "Read the payload JSON from a file; '-' reads standard input", HelpName = "PATH" };
        var timeZone = new Option<string?>("--tz", "--time-zone") { Description = "The IANA time zone the cron is read in, e.g. Europe/London [default: UTC]", HelpName = "ZONE" };
        var queue = new Option<string?>("--queue", "-q") { Description = "The job's queue [default: the server's default queue]", HelpName = "QUEUE" };
        var priority = new Option<int?>("--priority") { Description = "The job's priority, higher first [default: 0]", HelpName = "N" };
        var maxAttempts = new Option<int?>("--max-attempts") { Description = "The job's attempts before it is dead-lettered [default: the server's]", HelpName = "N" };
        var timeout = new Option<double?>("--timeout") { Description = "The time limit of each attempt [default: the server's]", HelpName = "SECONDS" };
        var misfire = new Option<string?>("--misfire")
        {
            Description = "Ticks missed by more than the misfire threshold (the cluster was down): FireOnce (one job for the latest) or Skip [default: FireOnce]",
            HelpName = "POLICY",
        }.AcceptOnlyFromAmong(StringComparer.OrdinalIgnoreCase, MisfirePolicies);
        var overlap = new Option<string?>("--overlap")
        {
            Description = "A tick while the previous tick's job is unfinished: Allow, or Skip the tick [default: Allow]",
            HelpName = "POLICY",
        }.AcceptOnlyFromAmong(StringComparer.OrdinalIgnoreCase, OverlapPolicies);
        var paused = new Option<bool>("--paused") { Description = "Store the schedule paused [default: active]" };
        var startAt = new Option<DateTimeOffset?>("--start-at") { Description = "No tick before this time (ISO 8601)", HelpName = "TIME" };
        var endAt = new Option<DateTimeOffset?>("--end-at") { Description = "No tick after this time (ISO 8601)", HelpName = "TIME" };
        timeout.MustBePositive();

        var command = new Command("set",
            "Create or replace a schedule as a whole (PUT): an option left out takes its default, it does not keep the stored value")
        {
            id, cron, type, payload, payloadFile, timeZone, queue, priority, maxAttempts, timeout, misfire, overlap, paused, startAt, endAt,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(payload) is not null && result.GetResult(payloadFile) is not null)
            {
                result.AddError("--payload and --payload-file cannot be used together.");
            }
        });

        return command.Runs(async context =>
        {
            var request = new ScheduleRequest
            {
                Cron = context.Get(cron)!,
                TimeZone = context.Get(timeZone),
                Job = new ScheduleJobRequest
                {
                    Type = context.Get(type)!,
                    Payload = SubmitCommand.ReadPayload(context.Get(payload), context.Get(payloadFile), context.Terminal.In),
                    Queue = context.Get(queue),
                    Priority = context.Get(priority),
                    MaxAttempts = context.Get(maxAttempts),
                    TimeoutSeconds = context.Get(timeout),
                },
                Paused = context.Get(paused),
                Misfire = Canonical(context.Get(misfire), MisfirePolicies),
                Overlap = Canonical(context.Get(overlap), OverlapPolicies),
                StartAt = context.Get(startAt),
                EndAt = context.Get(endAt),
            };
            var schedule = await context.Schedules.SetAsync(context.Get(id)!, request, context.Cancellation);
            ScheduleCommands.Write(context, schedule, $"Saved schedule [bold]{Markup.Escape(schedule.Value.Id)}[/].");
            return ExitCodes.Success;
        });
    }

    /// <summary>The server's spelling of a value accepted case-insensitively.</summary>
    private static string? Canonical(string? value, string[] allowed) =>
        value is null ? null : allowed.First(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
}
