using System.CommandLine;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary>The job commands, at the top level (<c>ow submit</c>, <c>ow get</c>, …) because they are the daily ones.</summary>
internal static class JobCommands
{
    public static IEnumerable<Command> Create() =>
    [
        SubmitCommand.Create(),
        GetCommand.Create(),
        ListCommand.Create(),
        WaitCommand.Create(),
        CancelCommand.Create(),
        RetryCommand.Create(),
        DeleteCommand.Create(),
    ];

    /// <summary>The <c>&lt;id&gt;</c> argument of the commands that act on one job.</summary>
    public static Argument<string> Id() => new Argument<string>("id") { Description = "The job's id" }.MustName("job");

    /// <summary>
    /// A validator: the argument names something (not empty, not dots alone). Sent as it is, an empty id asks for the
    /// collection instead (<c>GET /jobs/</c>), and <c>.</c> or <c>..</c> a path segment.
    /// </summary>
    public static Argument<string> MustName(this Argument<string> argument, string kind)
    {
        argument.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && result.Tokens[0].Value.Trim().Trim('.').Length == 0)
            {
                result.AddError($"The {kind} {argument.Name} '{result.Tokens[0].Value}' names nothing: give a non-empty {argument.Name} that is not dots alone.");
            }
        });
        return argument;
    }

    /// <summary>The most seconds an option of seconds takes (about 31 years): the server refuses less anyway.</summary>
    public const double MaxSeconds = 1e9;

    /// <summary>A validator: <paramref name="option"/>, when given, must be a number of seconds from 0 to <see cref="MaxSeconds"/>.</summary>
    public static void MustBePositive(this Option<double?> option) =>
        option.Validators.Add(result =>
        {
            // Read from the text: a token that is no number at all has its own parse error, and asking the result for
            // its value then throws instead of reporting it.
            if (result.Tokens.Count == 0
                || !double.TryParse(result.Tokens[^1].Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
            {
                return;
            }

            if (!double.IsFinite(value) || value < 0 || value > MaxSeconds)
            {
                result.AddError($"{option.Name} must be a number of seconds from 0 to {MaxSeconds:0} (was {result.Tokens[^1].Value}).");
            }
        });
}
