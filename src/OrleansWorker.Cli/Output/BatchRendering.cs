using System.Globalization;
using OrleansWorker.Cli.Api;
using Spectre.Console;

namespace OrleansWorker.Cli.Output;

/// <summary>Batches for people: progress by final state, and the members a submission created.</summary>
internal static class BatchRendering
{
    /// <summary>The largest member list <c>ow batches submit</c> prints as a table; bigger batches get a count.</summary>
    public const int MaxListedJobs = 20;

    /// <summary>Everything <c>ow batches get</c> shows.</summary>
    public static void WriteDetail(IAnsiConsole console, BatchView batch)
    {
        var details = new DetailGrid();
        void Row(string name, string markup) => details.Markup(name, markup);
        Row("batch", Markup.Escape(batch.Id));
        Row("created", JobRendering.Time(batch.CreatedAt) ?? "");
        Row("status", Status(batch));
        Row("jobs", Invariant($"{batch.Total}"));
        Row("succeeded", Count(batch, JobStates.Succeeded, "green"));
        Row("dead-lettered", Count(batch, JobStates.DeadLettered, "red"));
        Row("cancelled", Count(batch, JobStates.Cancelled, "yellow"));
        Row("pending", Invariant($"{batch.Pending}"));
        Row("completion job", batch.CompletionJobId is { } completion ? Markup.Escape(completion) : "[grey]none[/]");
        details.WriteTo(console);
    }

    /// <summary>The members of a submission: a table up to <see cref="MaxListedJobs"/>, else how many were created.</summary>
    public static void WriteMembers(IAnsiConsole console, IReadOnlyList<BatchItemView> jobs)
    {
        if (jobs.Count > MaxListedJobs)
        {
            var created = jobs.Count(j => j.Created);
            console.MarkupLine(Invariant($"[grey]{jobs.Count} job(s): {created} created, {jobs.Count - created} already existed ({Markup.Escape(jobs[0].Id)} … {Markup.Escape(jobs[^1].Id)}).[/]"));
            return;
        }

        var table = new Table().Border(TableBorder.Rounded).AddColumns("job", "state", "created");
        foreach (var job in jobs)
        {
            table.AddRow(new Text(job.Id), new Markup(JobRendering.State(job.State)), new Text(job.Created ? "yes" : "no (already existed)"));
        }

        console.Write(table);
    }

    /// <summary>One line for the live display: how many finished, and how.</summary>
    public static string Progress(BatchView batch) =>
        Invariant($"[bold]{Markup.Escape(batch.Id)}[/] {batch.Total - batch.Pending}/{batch.Total} finished") +
        (batch.Failed > 0 ? Invariant($" [red]{batch.Failed} failed[/]") : "") +
        (batch.Finished ? " [green]done[/]" : "");

    private static string Status(BatchView batch) => batch.Finished
        ? batch.Failed == 0 ? "[green]finished[/]" : "[red]finished with failures[/]"
        : "[blue]running[/]";

    private static string Count(BatchView batch, string state, string colour) =>
        batch.Count(state) is var n and > 0 ? Invariant($"[{colour}]{n}[/]") : "0";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
