using System.CommandLine;
using OrleansWorker.Cli.Hosting;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow wait &lt;id&gt;</c>: wait for a job to finish, with a live progress bar on a terminal.</summary>
internal static class WaitCommand
{
    public static Command Create()
    {
        var id = JobCommands.Id();
        var timeout = JobWaitFlow.TimeoutOption("--timeout", "-t");
        return new Command("wait", "Wait for a job to finish (live progress bar on a terminal); exit code 4 if it fails, 5 on timeout") { id, timeout }
            .Runs(context => JobWaitFlow.RunAsync(context, context.Get(id)!, context.Get(timeout)));
    }
}
