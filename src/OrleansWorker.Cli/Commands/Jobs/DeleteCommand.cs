using System.CommandLine;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow delete &lt;id&gt;</c>: DELETE /jobs/{id} (finished jobs only).</summary>
internal static class DeleteCommand
{
    public static Command Create()
    {
        var id = JobCommands.Id();
        return new Command("delete", "Delete a finished job (Succeeded, DeadLettered or Cancelled)") { id }.Runs(async context =>
        {
            var jobId = context.Get(id)!;
            await context.Jobs.DeleteAsync(jobId, context.Cancellation);
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("id", jobId);
                    w.WriteBoolean("deleted", true);
                    w.WriteEndObject();
                });
            }
            else
            {
                context.Terminal.Console.MarkupLine($"Deleted job [bold]{Markup.Escape(jobId)}[/].");
            }

            return ExitCodes.Success;
        });
    }
}
