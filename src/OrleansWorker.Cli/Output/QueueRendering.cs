using System.Globalization;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Commands.Queues;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OrleansWorker.Cli.Output;

/// <summary>Queues for people: a table of every queue with its settings and job counts, and one queue's detail.</summary>
internal static class QueueRendering
{
    /// <summary>The states in the order a job goes through them; a state the server adds later is shown after these.</summary>
    private static readonly string[] StateOrder = ["Queued", "Running", "Succeeded", "DeadLettered", "Cancelled"];

    /// <summary>
    /// States the server counts for the whole cluster only (one index per shard, not per queue): <c>GET /queues</c> reports
    /// them as 0 for every queue, so a table would show a misleading 0. <c>--json</c> still prints what the server sent.
    /// </summary>
    private static readonly string[] NotCountedPerQueue = ["Scheduled", "Waiting"];

    /// <summary>The <c>ow queues list</c> table.</summary>
    public static void WriteList(IAnsiConsole console, IReadOnlyList<QueueView> queues)
    {
        var states = States(queues);
        var table = new Table().Border(TableBorder.Rounded).AddColumns("queue", "status", "max concurrency", "rate limit");
        foreach (var state in states)
        {
            table.AddColumn(new TableColumn(state).RightAligned());
        }

        foreach (var queue in queues)
        {
            var row = new List<IRenderable> { new Text(queue.Name), new Markup(Status(queue)), new Text(Concurrency(queue)), new Text(Rate(queue)) };
            row.AddRange(states.Select(s => new Text(Count(queue, s).ToString(CultureInfo.InvariantCulture))));
            table.AddRow(row);
        }

        console.Write(table);
    }

    /// <summary>One queue: its settings, then its jobs by state.</summary>
    public static void WriteDetail(IAnsiConsole console, QueueView queue)
    {
        var details = new DetailGrid();
        details.Row("queue", new Text(queue.Name));
        details.Markup("status", Status(queue));
        details.Row("max concurrency", new Text(Concurrency(queue)));
        details.Row("rate limit", new Text(Rate(queue)));
        details.WriteTo(console);

        var table = new Table().Border(TableBorder.Rounded).Title("jobs").AddColumns("state", "count");
        table.Columns[1].RightAligned();
        foreach (var state in States([queue]))
        {
            table.AddRow(new Markup(JobRendering.State(state)), new Text(Count(queue, state).ToString(CultureInfo.InvariantCulture)));
        }

        console.Write(table);
    }

    /// <summary><c>active</c>, <c>paused</c>, or <c>paused until …</c> (a 429 with pauseQueue), as markup.</summary>
    public static string Status(QueueView queue) => (queue.Paused, queue.PausedUntil) switch
    {
        (true, { } until) => $"[yellow]paused until {JobRendering.Time(until)}[/]",
        (true, null) => "[yellow]paused[/]",
        _ => "[green]active[/]",
    };

    private static string Concurrency(QueueView queue) => queue.MaxConcurrency?.ToString(CultureInfo.InvariantCulture) ?? "none";

    private static string Rate(QueueView queue) => queue.RateLimit is { } rate ? RateSyntax.Format(rate) : "none";

    private static long Count(QueueView queue, string state) => queue.States.TryGetValue(state, out var n) ? n : 0;

    private static List<string> States(IEnumerable<QueueView> queues) =>
        [.. StateOrder, .. queues.SelectMany(q => q.States.Keys).Where(k => !StateOrder.Contains(k) && !NotCountedPerQueue.Contains(k)).Distinct().Order(StringComparer.Ordinal)];
}
