using System.CommandLine;
using System.CommandLine.Invocation;
using OrleansWorker.Cli.Commands;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Hosting;

namespace OrleansWorker.Cli;

/// <summary>
/// The <c>ow</c> command tree. Each area contributes its commands: the job commands at the top level, <c>health</c>;
/// command groups for later server features (<c>ow queues …</c> over <c>/queues</c>, <c>ow schedules …</c> over
/// <c>/schedules</c>) are one more <c>XCommands.Create()</c> returning a <see cref="Command"/> with subcommands, over
/// one more typed API class next to <see cref="Api.JobsApi"/>.
/// </summary>
internal static class OwApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand(
            "ow: operate an OrleansWorker cluster over its HTTP API (a worker on :4000 or the API host on :3000).\n" +
            "Tables for people, --json for scripts; the exit code tells a failed job (4) from a failed tool or server (1-3).");
        GlobalOptions.AddTo(root);
        foreach (var command in JobCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        root.Subcommands.Add(HealthCommand.Create());
        var help = ExitCodesHelpAction.Install(root);

        // 'ow' alone (or with only global options): the help, as a usage error.
        root.SetAction(parse =>
        {
            help?.Invoke(parse);
            return ExitCodes.Usage;
        });
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Build().Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            // One "error:" line per problem and a pointer to help, rather than the whole help text after the errors.
            var terminal = Terminal.FromSystem();
            foreach (var error in parse.Errors)
            {
                terminal.WriteError(error.Message);
            }

            var command = parse.CommandResult.Command;
            var path = command is RootCommand ? "ow" : "ow " + command.Name;
            terminal.WriteErrorLine($"Run '{path} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(2) });
    }
}
