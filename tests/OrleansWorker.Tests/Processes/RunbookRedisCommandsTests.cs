using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// Every <c>docker compose exec redis redis-cli …</c> line of our runbook (<c>docs/runbook.md</c>), run as written (by
/// bash, so its quoting is the operator's) against the redis-server of a real worker process named like compose's
/// (ClusterId and ServiceId <c>orleansworker</c>, so the membership line names the real hash), in a state where each
/// line has something to show: a dead-lettered, a succeeded, a scheduled and a queued job on a paused queue. A key name
/// the store no longer uses answers an empty list or 0, which fails here; where the line's key is known, its answer must
/// also hold what this state put there (the dead-lettered job's hash has <c>state</c> DeadLettered, the silo is in
/// membership and owns a lease, …).
/// </summary>
[Collection("processes")]
public sealed class RunbookRedisCommandsTests(ITestOutputHelper output) : ProcessClusterTest
{
    private const string DeadId = "rb-dead";
    private const string Queue = "default";

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
        Assert.True((await Shell.RunAsync("sh", ["-c", "command -v redis-cli"])).Succeeded, "redis-cli is not on PATH (it comes with redis-server: apt-get install -y redis-server).");
        var commands = RunbookRedisCommands();
        Assert.True(commands.Count >= 8, $"the runbook's redis-cli lines were not found: {string.Join(" | ", commands)}");

        var silo = await Cluster.StartSiloAsync("runbook", new Dictionary<string, string>
        {
            ["Orleans__ClusterId"] = "orleansworker",
            ["Orleans__ServiceId"] = "orleansworker",
        });
        await SubmitAsync(silo, new { type = "fail", id = DeadId, maxAttempts = 1, payload = new { times = 99 } });
        await SubmitAsync(silo, new { type = "noop", id = "rb-ok" });
        await SubmitAsync(silo, new { type = "noop", id = "rb-later", delaySeconds = 3600 });
        await WaitStateAsync(silo, DeadId, "DeadLettered");
        await WaitStateAsync(silo, "rb-ok", "Succeeded");
        await WaitStateAsync(silo, "rb-later", "Scheduled");
        using (var paused = await silo.Http.PostAsync($"/queues/{Queue}/pause", null))
        {
            Assert.True(paused.IsSuccessStatusCode, $"pause: {(int)paused.StatusCode}");
        }

        await SubmitAsync(silo, new { type = "noop", id = "rb-queued" });
        await WaitStateAsync(silo, "rb-queued", "Queued");

        var failures = new List<string>();
        foreach (var command in commands)
        {
            var line = command.Replace("<id>", DeadId, StringComparison.Ordinal).Replace("<queue>", Queue, StringComparison.Ordinal);
            Assert.False(Regex.IsMatch(line, "<[a-z]+>"), $"runbook line '{command}' has a placeholder this test does not fill in");
            var result = await Shell.RunAsync("bash", ["-c", $"redis-cli -p {Cluster.Redis.Port} {line}"]);
            var answer = result.StandardOutput.Trim();
            output.WriteLine($"redis-cli {line}\n{(answer.Length > 300 ? answer[..300] + " …" : answer)}");
            var problem = !result.Succeeded ? $"exit {result.ExitCode} ({result.StandardError.Trim()})"
                : answer.Length == 0 ? "an empty answer"
                : answer.StartsWith("(error)", StringComparison.Ordinal) || answer.StartsWith("ERR", StringComparison.Ordinal) || answer.StartsWith("WRONGTYPE", StringComparison.Ordinal) ? "an error"
                : Check(line.Replace("'", "", StringComparison.Ordinal), answer.Split('\n').Select(l => l.TrimEnd('\r')).ToArray(), silo);
            if (problem is not null)
            {
                failures.Add($"'{line}': {problem}; answered '{(answer.Length > 200 ? answer[..200] + " …" : answer)}'");
            }
        }

        Assert.True(failures.Count == 0, "runbook lines without a real answer: " + string.Join("; ", failures));
    }

    /// <summary>What the answer to <paramref name="line"/> (its quotes removed) must hold in this test's state; null when it does.</summary>
    private static string? Check(string line, string[] answer, HostProcess silo)
    {
        var args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var verb = args[0].ToLowerInvariant();
        var key = args.Length > 1 ? args[1] : "";
        var siloField = $"S127.0.0.1:{silo.SiloPort}:";
        switch (verb)
        {
            case "ping":
                return answer is ["PONG"] ? null : "not PONG";
            case "zcard":
                // Every set the runbook counts has a member here: ready (rb-queued), scheduled (rb-later), dead-lettered (rb-dead).
                return answer is [var n] && long.TryParse(n, out var count) && count >= 1 ? null : "not a count ≥ 1";
            case "hgetall" when key.Contains(":j:", StringComparison.Ordinal):
                var fields = Pairs(answer);
                return fields.TryGetValue("state", out var state) && state == "DeadLettered" ? null : $"no field state = DeadLettered for {DeadId}";
            case "hgetall" when key.Contains("/members/", StringComparison.Ordinal):
                return Pairs(answer).Any(f => f.Key.StartsWith(siloField, StringComparison.Ordinal) && f.Value.Contains("\"Status\":3", StringComparison.Ordinal))
                    ? null : $"no Active member {siloField}…";
            case "hkeys" when key.EndsWith("}:queues", StringComparison.Ordinal):
            case "smembers" when key.EndsWith(":paused", StringComparison.Ordinal):
                return answer.Contains(Queue) ? null : $"'{Queue}' is not listed";
            case "zrange" when key.Contains(":r:", StringComparison.Ordinal):
                return answer.Any(m => m.EndsWith("rb-queued", StringComparison.Ordinal)) ? null : "rb-queued is not listed";
            case "zrange" when key.EndsWith(":own", StringComparison.Ordinal):
                return answer.Any(m => m.StartsWith(ProcessCluster.SiloPrefix(silo), StringComparison.Ordinal)) ? null : "the silo holds no lease";
            case "--scan":
                var pattern = args.SkipWhile(a => a != "--pattern").Skip(1).FirstOrDefault() ?? "*";
                var glob = new Regex("^" + Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal) + "$");
                return answer.All(glob.IsMatch) && answer.Any(k => k.EndsWith(":j:" + DeadId, StringComparison.Ordinal)) ? null : $"the key of {DeadId} is not among those found";
            case "info":
                return answer[0].StartsWith("# ", StringComparison.Ordinal) && answer.Length > 1 ? null : "not an INFO section";
            default:
                // A line this test has no expectation for: at least not an empty set or a zero.
                return answer is ["0"] ? "0" : null;
        }
    }

    /// <summary>HGETALL's answer (field, value, field, value, …) as a dictionary.</summary>
    private static Dictionary<string, string> Pairs(string[] answer) =>
        Enumerable.Range(0, answer.Length / 2).ToDictionary(i => answer[2 * i], i => answer[(2 * i) + 1], StringComparer.Ordinal);
}
