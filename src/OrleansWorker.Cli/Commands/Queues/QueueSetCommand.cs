using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Queues;

/// <summary><c>ow queues set &lt;name&gt;</c>: PUT /queues/{name}, the settings as a whole.</summary>
internal static class QueueSetCommand
{
    public static Command Create()
    {
        var name = QueueCommands.Name();
        var maxConcurrency = new Option<int?>("--max-concurrency", "-c")
        {
            Description = "At most N jobs of the queue run at once, across the cluster [default: no limit]",
            HelpName = "N",
        };
        var rate = new Option<string?>("--rate", "-r")
        {
            Description = $"At most LIMIT starts per PERIOD, across the cluster: {RateSyntax.Example}, 600/1m, 10/500ms (a bare period is seconds) [default: no limit]",
            HelpName = "LIMIT/PERIOD",
        };
        var paused = new Option<bool>("--paused") { Description = "Store the queue paused [default: not paused]" };
        rate.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } text && !RateSyntax.TryParse(text, out _, out var error))
            {
                result.AddError(error);
            }
        });
        maxConcurrency.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } value and < 1)
            {
                result.AddError($"--max-concurrency must be ≥ 1 (was {value}).");
            }
        });

        var command = new Command("set",
            "Set a queue's settings as a whole (PUT): an option left out clears its setting, so 'ow queues set q' removes every limit and " +
            "resumes q; to pause or resume alone, use 'ow queues pause|resume'")
        {
            name, maxConcurrency, rate, paused,
        };
        return command.Runs(async context =>
        {
            RateLimitView? rateLimit = null;
            if (context.Get(rate) is { } text)
            {
                // The validator refused a bad one at parse time.
                rateLimit = RateSyntax.TryParse(text, out var parsed, out var error) ? parsed : throw new UsageException(error);
            }

            var settings = new QueueSettingsRequest
            {
                Paused = context.Get(paused),
                MaxConcurrency = context.Get(maxConcurrency),
                RateLimit = rateLimit,
            };
            var queue = await context.Queues.SetAsync(context.Get(name)!, settings, context.Cancellation);
            QueueCommands.Write(context, queue, $"Set queue [bold]{Markup.Escape(queue.Value.Name)}[/].");
            return ExitCodes.Success;
        });
    }
}
