using System.CommandLine;
using System.Globalization;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands;

/// <summary><c>ow health</c>: GET /health; exit code 3 when the server reports itself unhealthy.</summary>
internal static class HealthCommand
{
    public static Command Create() => new Command("health", "Show the server's health: its silo, the cluster and each dependency (exit code 3 when unhealthy)")
        .Runs(async context =>
        {
            var health = await context.Health.GetAsync(context.Cancellation);
            var report = health.Value;
            if (context.Json)
            {
                JsonOutput.Write(context.Terminal.Out, health.Raw);
            }
            else
            {
                var console = context.Terminal.Console;
                var colour = report.Status == "healthy" ? "green" : "red";
                console.MarkupLine($"[{colour}]{Markup.Escape(report.Status)}[/] {Markup.Escape(context.Api.BaseUrl.ToString())}");
                if (report.Silo is { } silo)
                {
                    console.WriteLine($"silo {silo.Address} {silo.Status}");
                }

                var checks = new Table().Border(TableBorder.Rounded).AddColumns("check", "status", "ms", "error");
                foreach (var (name, check) in report.Checks)
                {
                    checks.AddRow(new Text(name), new Markup(check.Status == "healthy" ? "[green]healthy[/]" : $"[red]{Markup.Escape(check.Status)}[/]"),
                        new Text(check.DurationMs.ToString("0.#", CultureInfo.InvariantCulture)), new Text(check.Error ?? ""));
                }

                console.Write(checks);
                if (report.Cluster is { } cluster)
                {
                    var silos = new Table().Border(TableBorder.Rounded).Title($"cluster: {cluster.ActiveSilos} active").AddColumns("silo", "status");
                    foreach (var s in cluster.Silos)
                    {
                        silos.AddRow(s.Address, s.Status);
                    }

                    console.Write(silos);
                }
            }

            if (report.Status == "healthy")
            {
                return ExitCodes.Success;
            }

            var failing = report.Checks.Where(c => c.Value.Status != "healthy").Select(c => $"{c.Key}: {c.Value.Error ?? c.Value.Status}");
            context.Terminal.WriteError($"the server reports {report.Status} ({string.Join("; ", failing)}).");
            return ExitCodes.Unavailable;
        });
}
