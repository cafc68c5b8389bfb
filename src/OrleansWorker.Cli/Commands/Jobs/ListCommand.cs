using System.CommandLine;
using System.Text.Json;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Jobs;

/// <summary><c>ow list</c>: GET /jobs by state, queue and type, one page or every page.</summary>
internal static class ListCommand
{
    /// <summary>The largest page the server serves.</summary>
    public const int MaxPage = 1000;

    public static Command Create()
    {
        var state = new Option<string?>("--state", "-s") { Description = "Only jobs in this state", HelpName = "STATE" }
            .AcceptOnlyFromAmong(StringComparer.OrdinalIgnoreCase, Enum.GetNames<JobStateFilter>());
        var queue = new Option<string?>("--queue", "-q") { Description = "Only jobs of this queue" };
        var type = new Option<string?>("--type") { Description = "Only jobs of this type" };
        var limit = new Option<int?>("--limit", "-n") { Description = "Jobs per page, 1-1000 [default: the server's, 100]; with --all, the page size" };
        var cursor = new Option<string?>("--cursor") { Description = "Continue after a previous page (its nextCursor)" };
        var all = new Option<bool>("--all", "-a") { Description = "Follow the cursors to the last page" };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } value and (< 1 or > MaxPage))
            {
                result.AddError($"--limit must be 1..{MaxPage} (was {value}).");
            }
        });

        var command = new Command("list", "List jobs by state, queue and type (without a state: running, queued, scheduled, waiting, then finished, newest first)") { state, queue, type, limit, cursor, all };
        return command.Runs(async context =>
        {
            var query = new JobListQuery(
                context.Get(state) is { } s ? Enum.Parse<JobStateFilter>(s, ignoreCase: true).ToString() : null,
                context.Get(queue), context.Get(type), context.Get(limit), context.Get(cursor));
            if (!context.Get(all))
            {
                var page = await context.Jobs.ListAsync(query, context.Cancellation);
                if (context.Json)
                {
                    JsonOutput.Write(context.Terminal.Out, page.Raw);
                }
                else
                {
                    JobRendering.WriteList(context.Terminal.Console, page.Value.Items);
                    if (page.Value.NextCursor is { } next)
                    {
                        context.Terminal.Console.MarkupLine($"[grey]More: --cursor {Markup.Escape(next)} (or --all)[/]");
                    }
                }

                return ExitCodes.Success;
            }

            var (views, raw) = await ListAllAsync(context.Jobs, query with { Limit = query.Limit ?? MaxPage }, context.Cancellation);
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("items");
                    foreach (var item in raw)
                    {
                        item.WriteTo(w);
                    }

                    w.WriteEndArray();
                    w.WriteNull("nextCursor");
                    w.WriteEndObject();
                });
            }
            else
            {
                JobRendering.WriteList(context.Terminal.Console, views);
                context.Terminal.Console.MarkupLine($"[grey]{views.Count} job(s).[/]");
            }

            return ExitCodes.Success;
        });
    }

    /// <summary>Every job matching <paramref name="query"/>, page after page.</summary>
    internal static async Task<(List<JobView> Views, List<JsonElement> Raw)> ListAllAsync(JobsApi jobs, JobListQuery query, CancellationToken cancellationToken)
    {
        var views = new List<JobView>();
        var raw = new List<JsonElement>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var page = await jobs.ListAsync(query, cancellationToken);
            views.AddRange(page.Value.Items);
            if (page.Raw.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array)
            {
                raw.AddRange(items.EnumerateArray());
            }

            // A cursor seen twice would loop forever; a server that does that has a bug, not more jobs.
            if (page.Value.NextCursor is not { Length: > 0 } next || !seen.Add(next))
            {
                return (views, raw);
            }

            query = query with { Cursor = next };
        }
    }
}
