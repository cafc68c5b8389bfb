using Spectre.Console;

namespace OrleansWorker.Cli.Hosting;

/// <summary>The yes/no question before a destructive or bulk action, skipped by <c>--yes</c>.</summary>
internal static class Confirmation
{
    /// <summary>
    /// Returns when <paramref name="yes"/> or the person answered yes. Asks on standard error (never mixed with output a
    /// script reads); refuses with a usage error (exit code 1) when standard input is not a terminal, so that a script
    /// never blocks on a prompt, and when the answer is no.
    /// </summary>
    /// <param name="context">The invocation: its terminal and its cancellation.</param>
    /// <param name="yes">Whether <c>--yes</c> was given.</param>
    /// <param name="question">The question, as markup.</param>
    /// <param name="action">What would be done, for the refusals: "deleting schedule 'x'".</param>
    /// <param name="nothing">What the "no" leaves undone: "nothing was deleted".</param>
    public static async Task RequireAsync(CliContext context, bool yes, string question, string action, string nothing)
    {
        if (yes)
        {
            return;
        }

        if (!context.Terminal.IsInputInteractive)
        {
            throw new UsageException($"not {action} without confirmation: standard input is not a terminal; pass --yes.");
        }

        if (!await new ConfirmationPrompt(question) { DefaultValue = false }.ShowAsync(context.Terminal.ErrorConsole, context.Cancellation))
        {
            throw new UsageException($"not confirmed; {nothing}.");
        }
    }
}
