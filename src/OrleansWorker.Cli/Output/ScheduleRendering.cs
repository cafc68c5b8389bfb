using System.Globalization;
using System.Text.Json;
using OrleansWorker.Cli.Api;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OrleansWorker.Cli.Output;

/// <summary>Schedules for people: a table with each one's last fire (and its job's state) and next fire; one schedule's detail.</summary>
internal static class ScheduleRendering
{
    /// <summary>The <c>ow schedules list</c> table.</summary>
    public static void WriteList(IAnsiConsole console, IReadOnlyList<ScheduleView> schedules)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("id", "cron", "time zone", "job", "status", "last fire", "last job", "state", "next fire");
        foreach (var s in schedules)
        {
            table.AddRow(
                new Text(s.Id), new Text(s.Cron), new Text(s.TimeZone), new Text(Job(s.Job)), new Markup(Status(s)),
                new Text(JobRendering.Time(s.LastFire?.At) ?? "never"), new Text(s.LastFire?.JobId ?? ""),
                new Markup(s.LastFire is { } fire ? LastState(fire) : ""), new Text(JobRendering.Time(s.NextFire) ?? "none"));
        }

        console.Write(table);
    }

    /// <summary>Everything <c>ow schedules get</c> shows.</summary>
    public static void WriteDetail(IAnsiConsole console, ScheduleView s)
    {
        var details = new DetailGrid();
        void Row(string name, IRenderable value) => details.Row(name, value);
        void Text(string name, string? value) => details.Text(name, value);

        Text("id", s.Id);
        Text("cron", s.Cron);
        Text("time zone", s.TimeZone);
        Row("status", new Markup(Status(s)));
        Text("job type", s.Job.Type);
        Text("queue", s.Job.Queue);
        Text("priority", s.Job.Priority?.ToString(CultureInfo.InvariantCulture));
        Text("max attempts", s.Job.MaxAttempts?.ToString(CultureInfo.InvariantCulture));
        Text("timeout", s.Job.TimeoutSeconds is { } t ? t.ToString("0.###", CultureInfo.InvariantCulture) + " s" : null);
        Text("unique key", s.Job.UniqueKey);
        Text("payload", s.Job.Payload is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } p ? p.GetRawText() : null);
        Text("misfire", s.Misfire);
        Text("overlap", s.Overlap);
        Text("start at", JobRendering.Time(s.StartAt));
        Text("end at", JobRendering.Time(s.EndAt));
        if (s.LastFire is { } fire)
        {
            Text("last fire", JobRendering.Time(fire.At) + Local(fire.At, s.TimeZone));
            if (fire.JobId is not null)
            {
                Row("last job", new Markup($"{Markup.Escape(fire.JobId)} {LastState(fire)}"));
            }
        }
        else
        {
            Text("last fire", "never");
        }

        Text("next fire", s.NextFire is { } next ? JobRendering.Time(next) + Local(next, s.TimeZone) : "none" + (s.Paused ? " (paused)" : ""));
        details.WriteTo(console);
    }

    /// <summary><c>active</c> or <c>paused</c>, as markup.</summary>
    public static string Status(ScheduleView s) => s.Paused ? "[yellow]paused[/]" : "[green]active[/]";

    private static string LastState(ScheduleFireView fire) => fire.State is { } state ? JobRendering.State(state) : "[grey](job gone)[/]";

    private static string Job(ScheduleJobView job) => job.Queue is { Length: > 0 } queue ? $"{job.Type} → {queue}" : job.Type ?? "";

    /// <summary>" (03:00 Europe/London)": the time in the schedule's own zone, when it is not UTC and this machine knows the zone.</summary>
    private static string Local(DateTimeOffset time, string timeZone)
    {
        if (string.IsNullOrEmpty(timeZone) || timeZone is "UTC" or "Etc/UTC")
        {
            return "";
        }

        try
        {
            var local = TimeZoneInfo.ConvertTime(time, TimeZoneInfo.FindSystemTimeZoneById(timeZone));
            return local.ToString(" (yyyy-MM-dd HH:mm:ss zzz ", CultureInfo.InvariantCulture) + timeZone + ")";
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return "";
        }
    }
}
