using System.Text.RegularExpressions;
using Spectre.Console;

namespace OrleansWorker.Cli.Hosting;

/// <summary>
/// Where the tool writes and reads. Machine output (JSON) goes to <see cref="Out"/> as plain text, never through
/// Spectre.Console, which wraps long lines; tables, progress and prompts go through the Spectre consoles.
/// </summary>
internal sealed partial class Terminal
{
    public required TextWriter Out { get; init; }
    public required TextWriter Error { get; init; }
    public required TextReader In { get; init; }

    /// <summary>Standard output for people: tables and the live progress bar.</summary>
    public required IAnsiConsole Console { get; init; }

    /// <summary>Standard error for people: prompts, so that they never mix with output a script reads.</summary>
    public required IAnsiConsole ErrorConsole { get; init; }

    /// <summary>Whether standard output is a terminal that can show a live display.</summary>
    public required bool IsOutputInteractive { get; init; }

    /// <summary>Whether standard input is a terminal a person can answer a prompt on.</summary>
    public required bool IsInputInteractive { get; init; }

    public static Terminal FromSystem()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Out) });
        var errorConsole = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });
        if (System.Console.IsOutputRedirected)
        {
            // Spectre assumes 80 columns without a terminal; a log or a pager reads wide tables better unwrapped.
            console.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 0 ? columns : 200;
        }

        return new Terminal
        {
            Out = System.Console.Out,
            Error = System.Console.Error,
            In = System.Console.In,
            Console = console,
            ErrorConsole = errorConsole,
            IsOutputInteractive = !System.Console.IsOutputRedirected && console.Profile.Capabilities.Interactive,
            IsInputInteractive = !System.Console.IsInputRedirected,
        };
    }

    /// <summary>Writes <c>error: message</c> on standard error, on one line whatever the message holds.</summary>
    public void WriteError(string message) => WriteErrorLine("error: " + message);

    /// <summary>Writes <paramref name="line"/> on standard error with line breaks folded into spaces.</summary>
    public void WriteErrorLine(string line) => Error.WriteLine(LineBreaks().Replace(line.Trim(), " "));

    [GeneratedRegex(@"\s*[\r\n]+\s*")]
    private static partial Regex LineBreaks();
}
