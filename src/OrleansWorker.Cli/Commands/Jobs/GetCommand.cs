using System.CommandLine;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow get &lt;id&gt;</c>: GET /jobs/{id}, with its attempts, error and progress.</summary>
internal static class GetCommand
{
    public static Command Create()
    {
        var id = JobCommands.Id();
        return new Command("get", "Show a job: state, progress, payload, result, last error and every attempt") { id }.Runs(async context =>
        {
            var job = await context.Jobs.GetAsync(context.Get(id)!, context.Cancellation);
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, job.Raw);
            }
            else
            {
                JobRendering.WriteDetail(context.Terminal.Console, job.Value);
            }

            return ExitCodes.Success;
        });
    }
}
