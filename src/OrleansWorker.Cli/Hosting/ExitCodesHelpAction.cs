using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Globalization;

namespace OrleansWorker.Cli.Hosting;

/// <summary>The standard help, followed by the environment variables and the exit codes scripts can rely on.</summary>
internal sealed class ExitCodesHelpAction(HelpAction help) : SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        var result = help.Invoke(parseResult);
        var output = parseResult.InvocationConfiguration.Output;
        output.WriteLine("Environment:");
        output.WriteLine($"  {GlobalOptions.UrlVariable,-12} default of --url");
        output.WriteLine($"  {GlobalOptions.ApiKeyVariable,-12} default of --api-key");
        output.WriteLine();
        output.WriteLine("Exit codes:");
        foreach (var (code, meaning) in ExitCodes.All)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {code,-4} {meaning}"));
        }

        output.WriteLine();
        return result;
    }

    /// <summary>Replaces the action of the help option of <paramref name="root"/> (recursive, so every command's help).</summary>
    public static ExitCodesHelpAction? Install(RootCommand root)
    {
        foreach (var option in root.Options)
        {
            if (option is HelpOption { Action: HelpAction help } helpOption)
            {
                var action = new ExitCodesHelpAction(help);
                helpOption.Action = action;
                return action;
            }
        }

        return null;
    }
}
