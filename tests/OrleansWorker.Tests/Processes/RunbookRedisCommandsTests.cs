using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// Every <c>docker compose exec redis redis-cli …</c> line of our runbook (<c>docs/runbook.md</c>), run as written (by
/// bash, so its quoting is the operator's) against the redis-server of a real worker process named like compose's
/// (ClusterId and ServiceId <c>orleansworker</c>), in a state where each line has something to show: a dead-lettered,
/// a succeeded, a scheduled and a queued job on a paused queue. Each must answer something, and a count more than 0:
/// a key name that the store no longer uses answers an empty list or 0.
/// </summary>
[Collection("processes")]
public sealed class RunbookRedisCommandsTests(ITestOutputHelper output) : ProcessClusterTest
{
    /// <summary>The redis-cli arguments of each line, with the line's own comment and a trailing <c>| head</c> removed.</summary>
    internal static IReadOnlyList<string> RunbookRedisCommands() =>
        File.ReadLines(Path.Combine(HostProcess.RepoRoot(), "docs", "runbook.md"))
            .Select(l => Regex.Match(l, @"^\s*docker compose exec redis redis-cli\s+(.+?)\s*$"))
            .Where(m => m.Success)
            .Select(m => Regex.Replace(m.Groups[1].Value, @"\s+#.*$", ""))
            .Select(c => Regex.Replace(c, @"\s*\|\s*head\s*$", ""))
            .Distinct()
            .ToList();

    private static async Task SubmitAsync(HostProcess silo, object job)
    {
        using var response = await silo.Http.PostAsJsonAsync("/jobs", job);
        Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK or HttpStatusCode.Created, $"POST /jobs: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static Task WaitStateAsync(HostProcess silo, string id, string state) =>
        Poll.UntilAsync(async () => (await silo.GetJsonAsync($"/jobs/{id}")).GetProperty("state").GetString() == state, TimeSpan.FromSeconds(30), $"job {id} to be {state}");

    [Fact]
    public async Task EveryRedisCliLineOfTheRunbook_AnswersSomethingReal()
    {
        var commands = RunbookRedisCommands();
        Assert.True(commands.Count >= 8, $"the runbook's redis-cli lines were not found: {string.Join(" | ", commands)}");

        var silo = await Cluster.StartSiloAsync("runbook", new Dictionary<string, string>
        {
            ["Orleans__ClusterId"] = "orleansworker",
            ["Orleans__ServiceId"] = "orleansworker",
        });
        await SubmitAsync(silo, new { type = "fail", id = "rb-dead", maxAttempts = 1, payload = new { times = 99 } });
        await SubmitAsync(silo, new { type = "noop", id = "rb-ok" });
        await SubmitAsync(silo, new { type = "noop", id = "rb-later", delaySeconds = 3600 });
        await WaitStateAsync(silo, "rb-dead", "DeadLettered");
        await WaitStateAsync(silo, "rb-ok", "Succeeded");
        using (var paused = await silo.Http.PostAsync("/queues/default/pause", null))
        {
            Assert.True(paused.IsSuccessStatusCode, $"pause: {(int)paused.StatusCode}");
        }

        await SubmitAsync(silo, new { type = "noop", id = "rb-queued" });
        await WaitStateAsync(silo, "rb-queued", "Queued");

        var failures = new List<string>();
        foreach (var command in commands)
        {
            var line = command.Replace("<id>", "rb-dead", StringComparison.Ordinal).Replace("<queue>", "default", StringComparison.Ordinal);
            var result = await Shell.RunAsync("bash", ["-c", $"redis-cli -p {Cluster.Redis.Port} {line}"]);
            var answer = result.StandardOutput.Trim();
            output.WriteLine($"redis-cli {line}\n{(answer.Length > 300 ? answer[..300] + " …" : answer)}");
            if (!result.Succeeded || answer.Length == 0 || answer == "0" || answer.StartsWith("(error)", StringComparison.Ordinal) || answer.StartsWith("ERR", StringComparison.Ordinal))
            {
                failures.Add($"'{line}' answered '{answer}' (exit {result.ExitCode}, {result.StandardError.Trim()})");
            }
        }

        Assert.True(failures.Count == 0, "runbook lines without a real answer: " + string.Join("; ", failures));
    }
}
