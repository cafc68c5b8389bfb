using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Batches;

/// <summary>
/// Follows a batch until every member finished (<c>ow batches get --wait</c>, <c>ow batches submit --wait</c>): a live
/// progress bar of finished members on a terminal, then the final view; exit code 0 when all succeeded, 4 when some
/// ended DeadLettered or Cancelled, 5 on timeout. The completion job is not waited for (<c>ow wait</c> it by its id).
/// </summary>
internal static class BatchWaitFlow
{
    /// <summary>How often the batch is read (the server has no long poll for batches).</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    public static Option<double?> TimeoutOption(string name, params string[] aliases)
    {
        var option = new Option<double?>(name, aliases)
        {
            Description = "Give up after this many seconds (exit code 5) [default: no limit]",
            HelpName = "SECONDS",
        };
        option.MustBePositive();
        return option;
    }

    public static async Task<int> RunAsync(CliContext context, string id, double? timeoutSeconds)
    {
        var timeout = timeoutSeconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
        var (last, finished, elapsed) = context.Json || !context.Terminal.IsOutputInteractive
            ? await PollAsync(context, id, timeout, null)
            : await context.Terminal.Console.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask(Markup.Escape(id), maxValue: 1);
                    var outcome = await PollAsync(context, id, timeout, batch =>
                    {
                        task.MaxValue = Math.Max(1, batch.Total);
                        task.Value = batch.Total - batch.Pending;
                        task.Description = BatchRendering.Progress(batch);
                    });
                    task.StopTask();
                    return outcome;
                });

        var view = last.Value;
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, last.Raw);
        }
        else
        {
            BatchRendering.WriteDetail(context.Terminal.Console, view);
        }

        if (!finished)
        {
            context.Terminal.WriteError($"timed out after {JobRendering.FormatDuration(elapsed)}; batch '{id}' has {view.Pending} of {view.Total} job(s) unfinished.");
            return ExitCodes.WaitTimedOut;
        }

        if (view.Failed == 0)
        {
            return ExitCodes.Success;
        }

        context.Terminal.WriteErrorLine(
            $"batch '{id}' finished with {view.Count(JobStates.DeadLettered)} DeadLettered and {view.Count(JobStates.Cancelled)} Cancelled of {view.Total} job(s).");
        return ExitCodes.JobFailed;
    }

    private static async Task<(ApiResult<BatchView> Last, bool Finished, TimeSpan Elapsed)> PollAsync(CliContext context, string id, TimeSpan? timeout,
        Action<BatchView>? onUpdate)
    {
        var started = context.Time.GetTimestamp();
        while (true)
        {
            var last = await context.Batches.GetAsync(id, context.Cancellation);
            onUpdate?.Invoke(last.Value);
            var elapsed = context.Time.GetElapsedTime(started);
            if (last.Value.Finished)
            {
                return (last, true, elapsed);
            }

            if (timeout is { } limit && elapsed >= limit)
            {
                return (last, false, elapsed);
            }

            var pause = timeout is { } t && t - elapsed < PollInterval ? t - elapsed : PollInterval;
            await Task.Delay(pause, context.Time, context.Cancellation);
        }
    }
}
