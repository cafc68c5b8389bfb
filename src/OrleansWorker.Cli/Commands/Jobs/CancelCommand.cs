using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow cancel &lt;id&gt;</c>: POST /jobs/{id}/cancel.</summary>
internal static class CancelCommand
{
    public static Command Create()
    {
        var id = JobCommands.Id();
        return new Command("cancel", "Cancel a queued, scheduled, waiting or running job (a running handler is asked to stop)") { id }.Runs(async context =>
        {
            var job = await context.Jobs.CancelAsync(context.Get(id)!, context.Cancellation);
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, job.Raw);
            }
            else if (job.Value.State == JobStates.Cancelled)
            {
                context.Terminal.Console.MarkupLine($"Cancelled job [bold]{Markup.Escape(job.Value.Id)}[/].");
            }
            else
            {
                context.Terminal.Console.MarkupLine(
                    $"Cancellation requested for job [bold]{Markup.Escape(job.Value.Id)}[/] ({JobRendering.State(job.Value.State)}): it ends Cancelled once its handler stops.");
            }

            return ExitCodes.Success;
        });
    }
}
