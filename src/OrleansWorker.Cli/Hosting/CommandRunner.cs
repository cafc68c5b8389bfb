using System.CommandLine;
using OrleansWorker.Cli.Api;

namespace OrleansWorker.Cli.Hosting;

/// <summary>Runs a command's body and turns the expected failures into one line on stderr and an exit code.</summary>
internal static class CommandRunner
{
    /// <summary>Makes <paramref name="run"/> the action of <paramref name="command"/>.</summary>
    public static Command Runs(this Command command, Func<CliContext, Task<int>> run)
    {
        command.SetAction((parse, cancellation) => RunAsync(parse, run, cancellation));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, Func<CliContext, Task<int>> run, CancellationToken cancellation)
    {
        var terminal = Terminal.FromSystem();
        try
        {
            using var context = CliContext.Create(parse, terminal, TimeProvider.System, cancellation);
            return await run(context);
        }
        catch (UsageException ex)
        {
            terminal.WriteError(ex.Message);
            return ExitCodes.Usage;
        }
        catch (ApiRefusedException ex)
        {
            terminal.WriteError(ex.Message);
            return ExitCodes.Refused;
        }
        catch (ApiUnavailableException ex)
        {
            terminal.WriteError(ex.Message);
            return ExitCodes.Unavailable;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            terminal.WriteError("interrupted.");
            return ExitCodes.Interrupted;
        }
    }
}
