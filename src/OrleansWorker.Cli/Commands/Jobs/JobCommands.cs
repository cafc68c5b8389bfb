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
    public static Argument<string> Id() => new("id") { Description = "The job's id" };

    /// <summary>A validator: <paramref name="option"/>, when given, must be positive.</summary>
    public static void MustBePositive(this Option<double?> option) =>
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } value && (double.IsNaN(value) || value < 0))
            {
                result.AddError($"{option.Name} must be a number of seconds ≥ 0 (was {value}).");
            }
        });
}
