using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using OrleansWorker.Cli.Commands;
using OrleansWorker.Cli.Commands.Batches;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Commands.Queues;
using OrleansWorker.Cli.Commands.Schedules;
using OrleansWorker.Cli.Hosting;

namespace OrleansWorker.Cli;

/// <summary>
/// The <c>ow</c> command tree. Each area contributes its commands: the job commands at the top level (the daily ones),
/// then one group per endpoint group (<c>ow queues …</c> over <c>/queues</c>, <c>ow schedules …</c> over
/// <c>/schedules</c>, <c>ow batches …</c> over <c>/batches</c>), each an <c>XCommands.Create()</c> returning a
/// <see cref="Command"/> with subcommands over a typed API class next to <see cref="Api.JobsApi"/>; and <c>health</c>.
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

        root.Subcommands.Add(QueueCommands.Create());
        root.Subcommands.Add(ScheduleCommands.Create());
        root.Subcommands.Add(BatchCommands.Create());
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

            terminal.WriteErrorLine($"Run '{CommandPath(parse.CommandResult)} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(2) });
    }

    /// <summary>"ow", "ow submit", "ow queues set": the command as typed, from the root down.</summary>
    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? current = result; current is not null; current = current.Parent)
        {
            if (current is CommandResult { Command: not RootCommand } command)
            {
                names.Add(command.Command.Name);
            }
        }

        names.Add("ow");
        names.Reverse();
        return string.Join(' ', names);
    }
}
