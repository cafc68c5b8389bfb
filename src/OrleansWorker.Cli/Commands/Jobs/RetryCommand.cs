using System.Collections.Concurrent;
using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow retry &lt;id&gt;</c> and <c>ow retry --all --queue q</c>: requeue dead letters (and cancelled jobs).</summary>
internal static class RetryCommand
{
    private const int Parallelism = 8;

    public static Command Create()
    {
        var id = new Argument<string?>("id") { Description = "The job's id (DeadLettered or Cancelled)", Arity = ArgumentArity.ZeroOrOne };
        var all = new Option<bool>("--all") { Description = "Retry every DeadLettered job of --queue" };
        var queue = new Option<string?>("--queue", "-q") { Description = "With --all: the queue whose dead letters to retry" };
        var yes = new Option<bool>("--yes", "-y") { Description = "With --all: do not ask for confirmation (required when stdin is not a terminal)" };
        var command = new Command("retry", "Requeue a DeadLettered or Cancelled job, or with --all every dead letter of a queue; attempts start again")
        {
            id, all, queue, yes,
        };
        command.Validators.Add(result =>
        {
            var hasId = result.GetValue(id) is not null;
            var isAll = result.GetValue(all);
            if (hasId == isAll)
            {
                result.AddError("Give either a job id or --all --queue <queue>.");
            }
            else if (isAll && string.IsNullOrWhiteSpace(result.GetValue(queue)))
            {
                result.AddError("--all needs --queue <queue>.");
            }
            else if (!isAll && (result.GetResult(queue) is not null || result.GetResult(yes) is not null))
            {
                result.AddError("--queue and --yes go with --all.");
            }
        });

        return command.Runs(context => context.Get(all)
            ? RetryAllAsync(context, context.Get(queue)!, context.Get(yes))
            : RetryOneAsync(context, context.Get(id)!));
    }

    private static async Task<int> RetryOneAsync(CliContext context, string id)
    {
        var job = await context.Jobs.RetryAsync(id, context.Cancellation);
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, job.Raw);
        }
        else
        {
            context.Terminal.Console.MarkupLine($"Requeued job [bold]{Markup.Escape(job.Value.Id)}[/]: {JobRendering.State(job.Value.State)}.");
        }

        return ExitCodes.Success;
    }

    private static async Task<int> RetryAllAsync(CliContext context, string queue, bool yes)
    {
        var query = new JobListQuery(nameof(JobStateFilter.DeadLettered), queue, null, ListCommand.MaxPage, null);
        var (views, _) = await ListCommand.ListAllAsync(context.Jobs, query, context.Cancellation);
        var ids = views.Where(v => v.State == JobStates.DeadLettered).Select(v => v.Id).Distinct(StringComparer.Ordinal).ToList();
        context.Note($"{ids.Count} dead-lettered job(s) in queue '{queue}'.");
        if (ids.Count > 0)
        {
            await Confirmation.RequireAsync(context, yes, $"Retry {ids.Count} job(s) of queue '{Markup.Escape(queue)}'?",
                $"retrying {ids.Count} job(s)", "nothing was retried");
        }

        var retried = new ConcurrentBag<string>();
        var skipped = new ConcurrentBag<(string Id, string Reason)>();
        try
        {
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = context.Cancellation }, async (jobId, ct) =>
            {
                try
                {
                    await context.Jobs.RetryAsync(jobId, ct);
                    retried.Add(jobId);
                }
                catch (ApiRefusedException ex) when (ex.Status is 404 or 409)
                {
                    // Retried, deleted or expired by someone else since the listing: not this run's failure.
                    skipped.Add((jobId, ex.Message));
                }
            });
        }
        catch (ApiUnavailableException ex)
        {
            throw new ApiUnavailableException($"{ex.Message} (retried {retried.Count} of {ids.Count} before this)", ex);
        }

        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, w =>
            {
                w.WriteStartObject();
                w.WriteString("queue", queue);
                w.WriteNumber("found", ids.Count);
                w.WriteNumber("retried", retried.Count);
                w.WriteStartArray("ids");
                foreach (var jobId in retried.Order(StringComparer.Ordinal))
                {
                    w.WriteStringValue(jobId);
                }

                w.WriteEndArray();
                w.WriteStartArray("skipped");
                foreach (var (jobId, reason) in skipped.OrderBy(s => s.Id, StringComparer.Ordinal))
                {
                    w.WriteStartObject();
                    w.WriteString("id", jobId);
                    w.WriteString("reason", reason);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        else
        {
            context.Terminal.Console.WriteLine($"Retried {retried.Count} of {ids.Count} job(s) in queue '{queue}'.");
            foreach (var (jobId, reason) in skipped)
            {
                context.Terminal.Console.WriteLine($"  skipped {jobId}: {reason}");
            }
        }

        return ExitCodes.Success;
    }
}
