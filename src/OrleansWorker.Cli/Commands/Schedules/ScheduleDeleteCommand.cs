using System.CommandLine;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Schedules;

/// <summary><c>ow schedules delete &lt;id&gt;</c>: DELETE /schedules/{id}, after a confirmation that <c>--yes</c> skips.</summary>
internal static class ScheduleDeleteCommand
{
    public static Command Create()
    {
        var id = ScheduleCommands.Id();
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (required when stdin is not a terminal)" };
        var command = new Command("delete", "Delete a schedule (the jobs it already submitted stay); asks first unless --yes") { id, yes };
        return command.Runs(async context =>
        {
            var scheduleId = context.Get(id)!;
            var confirmed = context.Get(yes);
            if (!confirmed && context.Terminal.IsInputInteractive)
            {
                // Show what is about to go, and find an unknown id before asking about it.
                var schedule = (await context.Schedules.GetAsync(scheduleId, context.Cancellation)).Value;
                context.Terminal.ErrorConsole.MarkupLine(
                    $"Schedule [bold]{Markup.Escape(schedule.Id)}[/]: '{Markup.Escape(schedule.Cron)}' {Markup.Escape(schedule.TimeZone)}, job {Markup.Escape(schedule.Job.Type ?? "")}.");
            }

            await Confirmation.RequireAsync(context, confirmed, $"Delete schedule '{Markup.Escape(scheduleId)}'?", $"deleting schedule '{scheduleId}'", "nothing was deleted");
            await context.Schedules.DeleteAsync(scheduleId, context.Cancellation);
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("id", scheduleId);
                    w.WriteBoolean("deleted", true);
                    w.WriteEndObject();
                });
            }
            else
            {
                context.Terminal.Console.MarkupLine($"Deleted schedule [bold]{Markup.Escape(scheduleId)}[/] (the jobs it submitted stay).");
            }

            return ExitCodes.Success;
        });
    }
}
