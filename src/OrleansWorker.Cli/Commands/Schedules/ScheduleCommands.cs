using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Schedules;

/// <summary><c>ow schedules list|get|set|pause|resume|trigger|delete</c>: the <c>/schedules</c> endpoints (recurring jobs).</summary>
internal static class ScheduleCommands
{
    public static Command Create() => new("schedules", "Recurring jobs: cron, time zone, job; last and next fire; pause, resume, trigger now")
    {
        List(), Get(), ScheduleSetCommand.Create(), Pause(), Resume(), Trigger(), ScheduleDeleteCommand.Create(),
    };

    /// <summary>The <c>&lt;id&gt;</c> argument of the commands that act on one schedule.</summary>
    public static Argument<string> Id() => new Argument<string>("id") { Description = "The schedule's id (1-100 characters of [A-Za-z0-9._-])" }.MustName("schedule");

    private static Command List() => new Command("list", "List every schedule with its last fire (and that job's state) and its next fire").Runs(async context =>
    {
        var schedules = await context.Schedules.ListAsync(context.Cancellation);
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, schedules.Raw);
        }
        else
        {
            ScheduleRendering.WriteList(context.Terminal.Console, schedules.Value);
        }

        return ExitCodes.Success;
    });

    private static Command Get()
    {
        var id = Id();
        return new Command("get", "Show a schedule: cron, time zone, job template, policies, last fire and its job, next fire") { id }.Runs(async context =>
        {
            Write(context, await context.Schedules.GetAsync(context.Get(id)!, context.Cancellation), null);
            return ExitCodes.Success;
        });
    }

    private static Command Pause()
    {
        var id = Id();
        return new Command("pause", "Pause a schedule: no tick fires until it is resumed") { id }.Runs(async context =>
        {
            var schedule = await context.Schedules.PauseAsync(context.Get(id)!, context.Cancellation);
            Write(context, schedule, $"Paused schedule [bold]{Markup.Escape(schedule.Value.Id)}[/].");
            return ExitCodes.Success;
        });
    }

    private static Command Resume()
    {
        var id = Id();
        return new Command("resume", "Resume a schedule: it fires again from the first tick after now") { id }.Runs(async context =>
        {
            var schedule = await context.Schedules.ResumeAsync(context.Get(id)!, context.Cancellation);
            Write(context, schedule, $"Resumed schedule [bold]{Markup.Escape(schedule.Value.Id)}[/].");
            return ExitCodes.Success;
        });
    }

    private static Command Trigger()
    {
        var id = Id();
        var wait = new Option<bool>("--wait", "-w") { Description = "Then wait for the job as 'ow wait' does (exit code 4 when it fails)" };
        var waitTimeout = JobWaitFlow.TimeoutOption("--wait-timeout");
        var command = new Command("trigger", "Submit the schedule's job now, as {id}::manual-{time} (its ticks are unchanged; works while paused)")
        {
            id, wait, waitTimeout,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(waitTimeout) is not null && !result.GetValue(wait))
            {
                result.AddError("--wait-timeout needs --wait.");
            }
        });
        return command.Runs(async context =>
        {
            var schedule = await context.Schedules.TriggerAsync(context.Get(id)!, context.Cancellation);
            var jobId = schedule.Value.LastFire?.JobId;
            var headline = $"Triggered schedule [bold]{Markup.Escape(schedule.Value.Id)}[/]: job [bold]{Markup.Escape(jobId ?? "?")}[/].";
            if (!context.Get(wait))
            {
                Write(context, schedule, headline);
                return ExitCodes.Success;
            }

            if (jobId is null)
            {
                throw new ApiUnavailableException($"the server triggered schedule '{schedule.Value.Id}' but did not name the job (lastFire.jobId).");
            }

            if (!context.Json)
            {
                context.Terminal.Console.MarkupLine(headline);
            }

            return await JobWaitFlow.RunAsync(context, jobId, context.Get(waitTimeout));
        });
    }

    /// <summary>The server's schedule under --json; else <paramref name="headline"/> (markup) and the schedule's detail.</summary>
    internal static void Write(CliContext context, ApiResult<ScheduleView> schedule, string? headline)
    {
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, schedule.Raw);
            return;
        }

        if (headline is not null)
        {
            context.Terminal.Console.MarkupLine(headline);
        }

        ScheduleRendering.WriteDetail(context.Terminal.Console, schedule.Value);
    }
}
