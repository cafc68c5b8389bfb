using System.Globalization;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Cli;

/// <summary>
/// The packed <c>ow</c> tool, installed with <c>dotnet tool install</c> and run as a process against a real worker:
/// every command with its <c>--json</c> output parsed, and the exit codes scripts rely on (0 ok, 1 usage, 2 refused,
/// 3 unavailable, 4 job failed, 5 wait timed out).
/// </summary>
[Collection("processes")]
public sealed partial class CliTests(OwTool ow) : IClassFixture<OwTool>
{
    private static readonly TimeSpan JobDeadline = TimeSpan.FromSeconds(30);

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private static string State(JsonElement job) => job.GetProperty("state").GetString()!;

    private static void AssertExit(int expected, OwResult result) =>
        Assert.True(result.ExitCode == expected, $"expected exit code {expected}: {result}");

    /// <summary>Expected errors are one line on stderr, "error: …", and no stack trace.</summary>
    private static void AssertOneLineError(OwResult result, string contains)
    {
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(contains, line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.StandardError, StringComparison.Ordinal);
    }

    private async Task<JsonElement> SubmitAsync(params string[] args)
    {
        var result = await ow.RunAsync(["submit", .. args, "--json"]);
        AssertExit(0, result);
        return result.Json();
    }

    private Task<OwResult> WaitUntilStateAsync(string id, string state) =>
        Poll.UntilAsync(() => ow.RunAsync("get", id, "--json"), r => r.ExitCode == 0 && State(r.Json()) == state, JobDeadline,
            $"job {id} to be {state} according to 'ow get'");

    [Fact]
    public async Task Help_ListsTheCommandsAndTheExitCodes()
    {
        var result = await ow.RunRawAsync(["--help"]);

        AssertExit(0, result);
        foreach (var command in (string[])["submit", "get", "list", "wait", "cancel", "retry", "delete", "queues", "schedules", "batches", "health"])
        {
            Assert.Contains($"  {command}", result.StandardOutput, StringComparison.Ordinal);
        }

        Assert.Contains("Exit codes:", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("4    the job ended DeadLettered or Cancelled", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("5    the wait timed out", result.StandardOutput, StringComparison.Ordinal);
        Assert.Matches(@"^\d+\.\d+\.\d+", ow.Version);
    }

    [Fact]
    public async Task Submit_InlinePayload_GetAndWaitShowTheResult()
    {
        var id = NewId("inline");

        var submitted = await SubmitAsync("echo", "--payload", """{"hello":"world"}""", "--id", id);
        var waited = await ow.RunAsync("wait", id, "--json", "--timeout", "30");
        var got = await ow.RunAsync("get", id, "--json");
        var again = await ow.RunAsync("submit", "echo", "--payload", "{}", "--id", id, "--json");
        var human = await ow.RunAsync("get", id);

        Assert.Equal(id, submitted.GetProperty("id").GetString());
        Assert.Equal("echo", submitted.GetProperty("type").GetString());
        Assert.Equal("world", submitted.GetProperty("payload").GetProperty("hello").GetString());
        AssertExit(0, waited);
        Assert.Equal("Succeeded", State(waited.Json()));
        AssertExit(0, got);
        var job = got.Json();
        Assert.Equal("world", job.GetProperty("result").GetProperty("hello").GetString());
        var attempt = Assert.Single(job.GetProperty("attempts").EnumerateArray());
        Assert.Equal("Succeeded", attempt.GetProperty("outcome").GetString());
        AssertExit(0, again);
        Assert.Equal("Succeeded", State(again.Json()));
        AssertExit(0, human);
        Assert.Contains(id, human.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("attempts", human.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_PayloadFileAndEveryOption_AreSent()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, """{"n":42}""");
        var queue = NewId("q-options");
        try
        {
            var job = await SubmitAsync("echo", "--payload-file", file, "--queue", queue, "--priority", "3", "--max-attempts", "2", "--timeout", "12",
                "--delay", "3600");

            Assert.Equal(42, job.GetProperty("payload").GetProperty("n").GetInt32());
            Assert.Equal(queue, job.GetProperty("queue").GetString());
            Assert.Equal(3, job.GetProperty("priority").GetInt32());
            Assert.Equal(2, job.GetProperty("maxAttempts").GetInt32());
            Assert.Equal(12, job.GetProperty("timeoutSeconds").GetDouble());
            Assert.Equal("Scheduled", State(job));
            var delay = job.GetProperty("runAt").GetDateTimeOffset() - job.GetProperty("createdAt").GetDateTimeOffset();
            Assert.InRange(delay.TotalSeconds, 3590, 3610);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Submit_PayloadFromStdin_IsSent()
    {
        // Tomorrow, to the second (the server takes run-at times up to a year ahead).
        var runAt = TimeProvider.System.GetUtcNow().AddDays(1);
        runAt = runAt.AddTicks(-(runAt.Ticks % TimeSpan.TicksPerSecond));

        var result = await ow.RunAsync(["submit", "echo", "--payload-file", "-", "--run-at", runAt.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), "--json"],
            stdin: """{"from":"stdin"}""");

        AssertExit(0, result);
        var job = result.Json();
        Assert.Equal("stdin", job.GetProperty("payload").GetProperty("from").GetString());
        Assert.Equal("Scheduled", State(job));
        Assert.Equal(runAt, job.GetProperty("runAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task List_FiltersAndAll_FollowTheCursors()
    {
        var queue = NewId("q-list");
        var scheduled = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            scheduled.Add((await SubmitAsync("noop", "--queue", queue, "--delay", "3600")).GetProperty("id").GetString()!);
        }

        var done = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            done.Add((await SubmitAsync("echo", "--queue", queue, "--payload", "1")).GetProperty("id").GetString()!);
        }

        var succeeded = await Poll.UntilAsync(() => ow.RunAsync("list", "--queue", queue, "--state", "succeeded", "--json"),
            r => r.ExitCode == 0 && r.Json().GetProperty("items").GetArrayLength() == 2, JobDeadline, $"both echo jobs of {queue} to be listed as Succeeded");
        var everything = await ow.RunAsync("list", "--queue", queue, "--json");
        var byState = await ow.RunAsync("list", "--queue", queue, "--state", "Scheduled", "--json");
        var byType = await ow.RunAsync("list", "--queue", queue, "--type", "noop", "--limit", "2", "--json");
        var all = await ow.RunAsync("list", "--queue", queue, "--limit", "2", "--all", "--json");
        var table = await ow.RunAsync("list", "--queue", queue);

        Assert.Equal(done.Order(), succeeded.Json().GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()).Order());
        AssertExit(0, everything);
        Assert.Equal(5, everything.Json().GetProperty("items").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, everything.Json().GetProperty("nextCursor").ValueKind);
        AssertExit(0, byState);
        Assert.Equal(scheduled.Order(), byState.Json().GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()).Order());
        AssertExit(0, byType);
        var page = byType.Json();
        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
        Assert.All(page.GetProperty("items").EnumerateArray(), j => Assert.Equal("noop", j.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(page.GetProperty("nextCursor").GetString()), "a first page of 2 of 3 noop jobs has a next cursor");
        AssertExit(0, all);
        Assert.Equal(scheduled.Concat(done).Order(), all.Json().GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()!).Order());
        AssertExit(0, table);
        Assert.All(scheduled.Concat(done), id => Assert.Contains(id, table.StandardOutput, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Wait_SleepJob_ExitsZeroWhenItSucceeds()
    {
        var job = await SubmitAsync("sleep", "--payload", """{"ms":1500}""");
        var id = job.GetProperty("id").GetString()!;
        Assert.NotEqual("Succeeded", State(job));

        var waited = await ow.RunAsync("wait", id, "--json");

        AssertExit(0, waited);
        Assert.Equal("Succeeded", State(waited.Json()));
        Assert.Empty(waited.StandardError);
    }

    [Fact]
    public async Task Wait_FailingJob_ExitsFour()
    {
        var submitted = await ow.RunAsync("submit", "fail", "--payload", """{"times":-1}""", "--max-attempts", "1", "--wait", "--json");

        AssertExit(4, submitted);
        var job = submitted.Json();
        Assert.Equal("DeadLettered", State(job));
        Assert.Contains("ended DeadLettered", Assert.Single(submitted.ErrorLines), StringComparison.Ordinal);

        var waited = await ow.RunAsync("wait", job.GetProperty("id").GetString()!, "--json");

        AssertExit(4, waited);
        Assert.Equal("DeadLettered", State(waited.Json()));
    }

    [Fact]
    public async Task Cancel_RunningSleepJob_EndsCancelled()
    {
        var id = (await SubmitAsync("sleep", "--payload", """{"ms":120000}""")).GetProperty("id").GetString()!;
        await WaitUntilStateAsync(id, "Running");

        var timedOut = await ow.RunAsync("wait", id, "--timeout", "1", "--json");
        var deleteRunning = await ow.RunAsync("delete", id);
        var cancelled = await ow.RunAsync("cancel", id, "--json");
        var waited = await ow.RunAsync("wait", id, "--timeout", "30", "--json");

        AssertExit(5, timedOut);
        Assert.Equal("Running", State(timedOut.Json()));
        AssertOneLineError(timedOut, "timed out");
        AssertExit(2, deleteRunning);
        Assert.Single(deleteRunning.ErrorLines);
        AssertExit(0, cancelled);
        var view = cancelled.Json();
        Assert.True(State(view) == "Cancelled" || view.GetProperty("cancelRequested").GetBoolean(), $"cancel answered {view}");
        AssertExit(4, waited);
        Assert.Equal("Cancelled", State(waited.Json()));
    }

    [Fact]
    public async Task Retry_DeadLetteredJob_RunsAgain()
    {
        var failed = await ow.RunAsync("submit", "fail", "--payload", """{"times":-1}""", "--max-attempts", "1", "--wait", "--json");
        AssertExit(4, failed);
        var id = failed.Json().GetProperty("id").GetString()!;
        Assert.Equal(1, failed.Json().GetProperty("attempts").GetArrayLength());

        var retried = await ow.RunAsync("retry", id, "--json");
        var waited = await ow.RunAsync("wait", id, "--timeout", "30", "--json");

        AssertExit(0, retried);
        Assert.NotEqual("DeadLettered", State(retried.Json()));
        AssertExit(4, waited);
        Assert.Equal("DeadLettered", State(waited.Json()));
        Assert.Equal(2, waited.Json().GetProperty("attempts").GetArrayLength());
    }

    [Fact]
    public async Task RetryAll_QueueOfDeadLetters_AsksThenRetriesEach()
    {
        var queue = NewId("q-dead");
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var failed = await ow.RunAsync("submit", "fail", "--payload", """{"times":-1}""", "--max-attempts", "1", "--queue", queue, "--wait", "--json");
            AssertExit(4, failed);
            ids.Add(failed.Json().GetProperty("id").GetString()!);
        }

        var before = await ow.RunAsync("list", "--queue", queue, "--state", "DeadLettered", "--json");
        Assert.Equal(ids.Order(), before.Json().GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()!).Order());

        var unconfirmed = await ow.RunAsync("retry", "--all", "--queue", queue, "--json");
        var untouched = await ow.RunAsync("list", "--queue", queue, "--state", "DeadLettered", "--json");
        var confirmed = await ow.RunAsync("retry", "--all", "--queue", queue, "--yes", "--json");

        AssertExit(1, unconfirmed);
        Assert.Contains("--yes", unconfirmed.StandardError, StringComparison.Ordinal);
        Assert.Empty(unconfirmed.StandardOutput);
        Assert.Equal(3, untouched.Json().GetProperty("items").GetArrayLength());
        AssertExit(0, confirmed);
        var report = confirmed.Json();
        Assert.Equal(3, report.GetProperty("found").GetInt32());
        Assert.Equal(3, report.GetProperty("retried").GetInt32());
        Assert.Equal(ids.Order(), report.GetProperty("ids").EnumerateArray().Select(j => j.GetString()!).Order());
        foreach (var id in ids)
        {
            var waited = await ow.RunAsync("wait", id, "--timeout", "30", "--json");
            AssertExit(4, waited);
            Assert.Equal(2, waited.Json().GetProperty("attempts").GetArrayLength());
        }
    }

    [Fact]
    public async Task Delete_FinishedJob_IsGone()
    {
        var id = NewId("delete");
        await SubmitAsync("noop", "--id", id);
        AssertExit(0, await ow.RunAsync("wait", id, "--json"));

        var deleted = await ow.RunAsync("delete", id, "--json");
        var got = await ow.RunAsync("get", id, "--json");

        AssertExit(0, deleted);
        Assert.True(deleted.Json().GetProperty("deleted").GetBoolean());
        AssertExit(2, got);
        AssertOneLineError(got, $"No job has the id '{id}'.");
    }

    [Fact]
    public async Task Health_HealthyWorker_ExitsZero()
    {
        var json = await ow.RunAsync("health", "--json");
        var human = await ow.RunAsync("health");

        AssertExit(0, json);
        Assert.Equal("healthy", json.Json().GetProperty("status").GetString());
        Assert.Equal(1, json.Json().GetProperty("cluster").GetProperty("activeSilos").GetInt32());
        AssertExit(0, human);
        Assert.StartsWith("healthy", human.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadInput_IsRefusedBeforeAnyRequest()
    {
        // A closed port: had the tool sent anything, it would have exited 3 (unreachable), not 1.
        var nowhere = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var missing = Path.Combine(Path.GetTempPath(), NewId("missing") + ".json");

        var missingFile = await ow.RunAsync(["submit", "echo", "--payload-file", missing, "--json"], url: nowhere);
        var badJson = await ow.RunAsync(["submit", "echo", "--payload", "{not json", "--json"], url: nowhere);
        var badOption = await ow.RunAsync(["list", "--state", "Finished", "--json"], url: nowhere);

        AssertExit(1, missingFile);
        AssertOneLineError(missingFile, missing);
        AssertExit(1, badJson);
        AssertOneLineError(badJson, "not valid JSON");
        AssertExit(1, badOption);
        Assert.StartsWith("error: ", badOption.ErrorLines[0], StringComparison.Ordinal);
        Assert.All([missingFile, badJson, badOption], r => Assert.Empty(r.StandardOutput));
    }

    [Theory]
    [InlineData("wait", "x", "--timeout", "abc")]
    [InlineData("submit", "echo", "--delay", "1e400")]
    [InlineData("submit", "echo", "--timeout", "Infinity")]
    [InlineData("wait", "x", "--timeout", "1e400")]
    [InlineData("get", "")]
    [InlineData("get", "..")]
    [InlineData("cancel", " ")]
    [InlineData("schedules", "get", "")]
    [InlineData("batches", "get", ".")]
    [InlineData("queues", "set", "", "--paused")]
    [InlineData("submit", "echo", "--depends-on", "")]
    [InlineData("submit", "echo", "--depends-on", "a,,b")]
    [InlineData("--api-key", "k\u0001ey", "get", "x")]
    public async Task MistakenArguments_AreUsageErrors_NotCrashes(params string[] args)
    {
        // A closed port: had the tool sent anything, it would have exited 3 (unreachable), not 1.
        var nowhere = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var result = await ow.RunAsync(args, url: nowhere);
        AssertExit(1, result);
        Assert.StartsWith("error: ", Assert.Single(result.ErrorLines, l => l.StartsWith("error: ", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownId_ExitsTwoWithTheProblemDetail()
    {
        var id = NewId("unknown");

        var result = await ow.RunAsync("get", id, "--json");

        AssertExit(2, result);
        Assert.Equal($"error: No job has the id '{id}'.", Assert.Single(result.ErrorLines));
        Assert.Empty(result.StandardOutput);
    }

    [Fact]
    public async Task UnknownJobType_ExitsTwo()
    {
        var result = await ow.RunAsync("submit", "no-such-type", "--json");

        AssertExit(2, result);
        AssertOneLineError(result, "no-such-type");
    }

    [Fact]
    public async Task ServerNotReachable_ExitsThree()
    {
        var result = await ow.RunAsync(["get", "anything", "--json"], url: $"http://127.0.0.1:{RedisServer.FreePort()}");

        AssertExit(3, result);
        AssertOneLineError(result, "cannot reach");
    }

    [Fact]
    public async Task ApiKey_FromTheEnvironment_IsSentAndAWrongOneRefused()
    {
        await using var secured = HostProcess.StartSilo("cli-worker-key", redis: null, new Dictionary<string, string> { ["Worker__ApiKey"] = "s3cret" });
        await secured.WaitReadyAsync();
        var url = $"http://127.0.0.1:{secured.HttpPort}";

        var right = await ow.RunAsync(["submit", "noop", "--json"], environment: new Dictionary<string, string?> { ["OW_API_KEY"] = "s3cret" }, url: url);
        var wrong = await ow.RunAsync(["submit", "noop", "--json"], environment: new Dictionary<string, string?> { ["OW_API_KEY"] = "wrong" }, url: url);
        var none = await ow.RunAsync(["list", "--json"], url: url);
        var option = await ow.RunAsync(["list", "--api-key", "s3cret", "--json"], environment: new Dictionary<string, string?> { ["OW_API_KEY"] = "wrong" }, url: url);

        AssertExit(0, right);
        Assert.Equal("noop", right.Json().GetProperty("type").GetString());
        AssertExit(2, wrong);
        AssertOneLineError(wrong, "X-Api-Key");
        AssertExit(2, none);
        AssertOneLineError(none, "X-Api-Key");
        AssertExit(0, option);
        Assert.Single(option.Json().GetProperty("items").EnumerateArray());
    }
}
