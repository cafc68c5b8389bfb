using System.CommandLine;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;

namespace OrleansWorker.Cli.Commands.Batches;

/// <summary><c>ow batches submit|get</c>: the <c>/batches</c> endpoints.</summary>
internal static class BatchCommands
{
    public static Command Create() => new("batches", "Batches: many jobs submitted as one, with a completion job that runs once all finished")
    {
        BatchSubmitCommand.Create(), Get(),
    };

    private static Command Get()
    {
        var id = new Argument<string>("id") { Description = "The batch's id" }.MustName("batch");
        var wait = new Option<bool>("--wait", "-w")
        {
            Description = "Follow the batch until every job finished (live progress bar on a terminal); exit code 4 if any failed, 5 on timeout",
        };
        var timeout = BatchWaitFlow.TimeoutOption("--timeout", "-t");
        var command = new Command("get", "Show a batch's progress: jobs by final state, pending, finished, its completion job") { id, wait, timeout };
        command.Validators.Add(result =>
        {
            if (result.GetResult(timeout) is not null && !result.GetValue(wait))
            {
                result.AddError("--timeout needs --wait.");
            }
        });
        return command.Runs(async context =>
        {
            var batchId = context.Get(id)!;
            if (context.Get(wait))
            {
                return await BatchWaitFlow.RunAsync(context, batchId, context.Get(timeout));
            }

            var batch = await context.Batches.GetAsync(batchId, context.Cancellation);
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, batch.Raw);
            }
            else
            {
                BatchRendering.WriteDetail(context.Terminal.Console, batch.Value);
            }

            return ExitCodes.Success;
        });
    }
}
