using System.CommandLine;
using System.Globalization;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary>How a wait ended: the job's last view, and whether it finished before the deadline.</summary>
internal sealed record WaitOutcome(ApiResult<JobView> Last, bool Finished, TimeSpan Elapsed);

/// <summary>
/// Waits any length of time for a job by chaining the server's long polls (each ≤ 60 s). A live display asks for short
/// polls instead, so that the progress a handler reports shows up within a second while a finish is still seen at once.
/// </summary>
internal sealed class JobWaiter(JobsApi jobs, TimeProvider time)
{
    /// <summary>The poll length under a live display.</summary>
    public static readonly TimeSpan LiveSlice = TimeSpan.FromSeconds(1);

    public async Task<WaitOutcome> WaitAsync(string id, TimeSpan? timeout, TimeSpan slice, Action<JobView>? onUpdate, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            var remaining = timeout is { } t ? t - time.GetElapsedTime(started) : TimeSpan.MaxValue;
            var poll = remaining < slice ? remaining : slice;
            var last = await jobs.WaitAsync(id, poll < TimeSpan.Zero ? TimeSpan.Zero : poll, cancellationToken);
            onUpdate?.Invoke(last.Value);
            var elapsed = time.GetElapsedTime(started);
            if (last.Value.IsFinished || (timeout is { } limit && elapsed >= limit))
            {
                return new WaitOutcome(last, last.Value.IsFinished, elapsed);
            }
        }
    }
}

/// <summary>The end of <c>ow wait</c> and <c>ow submit --wait</c>: wait (live or not), print the final view, pick the exit code.</summary>
internal static class JobWaitFlow
{
    /// <summary>The <c>--timeout</c> of <c>ow wait</c> / <c>--wait-timeout</c> of <c>ow submit</c>.</summary>
    public static Option<double?> TimeoutOption(string name, params string[] aliases)
    {
        var option = new Option<double?>(name, aliases)
        {
            Description = "Give up after this many seconds (exit code 5); any length, the server's 60 s waits are chained [default: no limit]",
            HelpName = "SECONDS",
        };
        option.MustBePositive();
        return option;
    }

    public static async Task<int> RunAsync(CliContext context, string id, double? timeoutSeconds)
    {
        var timeout = timeoutSeconds is { } s ? TimeSpan.FromSeconds(s) : (TimeSpan?)null;
        var waiter = new JobWaiter(context.Jobs, context.Time);
        var outcome = context.Json || !context.Terminal.IsOutputInteractive
            ? await waiter.WaitAsync(id, timeout, JobsApi.MaxServerWait, null, context.Cancellation)
            : await WaitLiveAsync(context, waiter, id, timeout);

        var job = outcome.Last.Value;
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, outcome.Last.Raw);
        }
        else
        {
            JobRendering.WriteDetail(context.Terminal.Console, job);
        }

        if (!outcome.Finished)
        {
            context.Terminal.WriteError($"timed out after {JobRendering.FormatDuration(outcome.Elapsed)}; job '{id}' is still {job.State}.");
            return ExitCodes.WaitTimedOut;
        }

        if (job.State == JobStates.Succeeded)
        {
            return ExitCodes.Success;
        }

        var reason = job.LastError is { } error ? $": {error.Type}: {error.Message}" : ".";
        context.Terminal.WriteErrorLine($"job '{id}' ended {job.State}{reason}");
        return ExitCodes.JobFailed;
    }

    private static Task<WaitOutcome> WaitLiveAsync(CliContext context, JobWaiter waiter, string id, TimeSpan? timeout) =>
        context.Terminal.Console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask(Markup.Escape(id), maxValue: 100);
                var outcome = await waiter.WaitAsync(id, timeout, JobWaiter.LiveSlice, job =>
                {
                    task.Description = Describe(job);
                    if (job.Progress is { } reported)
                    {
                        task.Value = Math.Clamp(reported.Percent, 0, 100);
                    }

                    if (job.State == JobStates.Succeeded)
                    {
                        task.Value = 100;
                    }
                }, context.Cancellation);
                task.StopTask();
                return outcome;
            });

    private static string Describe(JobView job)
    {
        var text = $"[bold]{Markup.Escape(job.Id)}[/] {JobRendering.State(job.State)}";
        if (job.Attempt > 0)
        {
            text += string.Create(CultureInfo.InvariantCulture, $" [grey]attempt {job.Attempt}/{job.MaxAttempts}[/]");
        }

        if (job.Progress?.Message is { Length: > 0 } message)
        {
            text += " " + Markup.Escape(message);
        }

        return text;
    }
}
