using System.Globalization;
using System.Text.Json;
using OrleansWorker.Cli.Api;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OrleansWorker.Cli.Output;

/// <summary>Jobs for people: a detail view, a list table, states in colour.</summary>
internal static class JobRendering
{
    /// <summary>Everything <c>ow get</c> shows: the job, its progress, payload, result, last error and attempts.</summary>
    public static void WriteDetail(IAnsiConsole console, JobView job)
    {
        var details = new DetailGrid();
        void Row(string name, IRenderable value) => details.Row(name, value);
        void Text(string name, string? value) => details.Text(name, value);

        Text("id", job.Id);
        Text("type", job.Type);
        Text("queue", job.Queue);
        Text("priority", job.Priority.ToString(CultureInfo.InvariantCulture));
        Row("state", new Markup(State(job.State) + (job.CancelRequested && !job.IsFinished ? " [yellow](cancel requested)[/]" : "")));
        Text("attempt", Invariant($"{job.Attempt} of {job.MaxAttempts}") + (job.Interruptions > 0 ? Invariant($" ({job.Interruptions} of {job.MaxInterruptions} interruptions)") : ""));
        Text("timeout", Invariant($"{job.TimeoutSeconds:0.###} s"));
        Text("created", Time(job.CreatedAt));
        Text("run at", Time(job.RunAt));
        Text("started", Time(job.StartedAt));
        Text("finished", Time(job.FinishedAt) + Duration(job.StartedAt, job.FinishedAt, " ({0})"));
        Text("depends on", job.DependsOn.Count > 0 ? string.Join(", ", job.DependsOn) : null);
        Text("unique key", job.UniqueKey);
        Text("schedule", job.ScheduleId);
        Text("batch", job.BatchId);
        Text("silo", job.Silo);
        Text("trace id", job.TraceId);
        if (job.Progress is { } progress)
        {
            Row("progress", new Text(Invariant($"{progress.Percent}%") + (string.IsNullOrEmpty(progress.Message) ? "" : " " + progress.Message)));
        }

        Text("payload", Compact(job.Payload));
        Text("result", Compact(job.Result));
        if (job.LastError is { } error)
        {
            Row("last error", new Text($"{error.Type}: {error.Message}", new Style(Color.Red)));
        }

        details.WriteTo(console);
        if (job.Attempts.Count > 0)
        {
            var table = new Table().Border(TableBorder.Rounded).Title("attempts")
                .AddColumns("#", "started", "duration", "silo", "outcome", "error");
            foreach (var attempt in job.Attempts)
            {
                table.AddRow(
                    new Text(attempt.Number.ToString(CultureInfo.InvariantCulture)),
                    new Text(Time(attempt.StartedAt) ?? ""),
                    new Text(Duration(attempt.StartedAt, attempt.EndedAt, "{0}") ?? (attempt.EndedAt is null ? "running" : "")),
                    new Text(attempt.Silo ?? ""),
                    new Markup(Outcome(attempt.Outcome)),
                    new Text(attempt.Error is { } e ? $"{e.Type}: {e.Message}" : ""));
            }

            console.Write(table);
        }
    }

    /// <summary>The <c>ow list</c> table.</summary>
    public static void WriteList(IAnsiConsole console, IReadOnlyList<JobView> jobs)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("id", "type", "queue", "state", "attempt", "created", "finished", "progress / error");
        foreach (var job in jobs)
        {
            var note = job.LastError is { } error && job.State != JobStates.Succeeded
                ? $"{error.Type}: {error.Message}"
                : job.Progress is { } progress ? Invariant($"{progress.Percent}% {progress.Message}").Trim() : "";
            table.AddRow(
                new Text(job.Id), new Text(job.Type), new Text(job.Queue), new Markup(State(job.State)),
                new Text(Invariant($"{job.Attempt}/{job.MaxAttempts}")), new Text(Time(job.CreatedAt) ?? ""), new Text(Time(job.FinishedAt) ?? ""),
                new Text(note));
        }

        console.Write(table);
    }

    /// <summary>The state in its colour, as markup.</summary>
    public static string State(string state) => state switch
    {
        JobStates.Succeeded => "[green]Succeeded[/]",
        JobStates.DeadLettered => "[red]DeadLettered[/]",
        JobStates.Cancelled => "[yellow]Cancelled[/]",
        "Running" => "[blue]Running[/]",
        "Waiting" => "[grey]Waiting[/]",
        _ => Markup.Escape(state),
    };

    private static string Outcome(string? outcome) => outcome switch
    {
        null => "",
        "Succeeded" => "[green]Succeeded[/]",
        "Failed" or "TimedOut" => $"[red]{outcome}[/]",
        _ => $"[yellow]{Markup.Escape(outcome)}[/]",
    };

    /// <summary>UTC, to the second, as the servers log.</summary>
    public static string? Time(DateTimeOffset? time) =>
        time?.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string? Duration(DateTimeOffset? start, DateTimeOffset? end, string format) =>
        start is { } s && end is { } e ? string.Format(CultureInfo.InvariantCulture, format, FormatDuration(e - s)) : null;

    public static string FormatDuration(TimeSpan duration) => duration.TotalSeconds switch
    {
        < 1 => Invariant($"{duration.TotalMilliseconds:0} ms"),
        < 120 => Invariant($"{duration.TotalSeconds:0.#} s"),
        _ => Invariant($"{duration.TotalMinutes:0.#} min"),
    };

    private static string? Compact(JsonElement? json) => json is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } value ? value.GetRawText() : null;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
