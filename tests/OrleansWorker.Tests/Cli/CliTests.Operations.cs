using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Cli;

/// <summary>
/// The commands over queues, schedules, batches and job dependencies (<c>ow queues …</c>, <c>ow schedules …</c>,
/// <c>ow batches …</c>, <c>ow submit --depends-on …</c>), run as the installed tool against the same real worker.
/// </summary>
public sealed partial class CliTests
{
    /// <summary>A terminal wide enough that no table row of these long test ids wraps (redirected output is 200 columns otherwise).</summary>
    private static readonly Dictionary<string, string?> Wide = new() { ["COLUMNS"] = "400" };

    private static string Id(JsonElement element) => element.GetProperty("id").GetString()!;

    private static long Count(JsonElement queue, string state) => queue.GetProperty("states").GetProperty(state).GetInt64();

    private static JsonElement ByName(JsonElement array, string property, string value) =>
        Assert.Single(array.EnumerateArray(), e => e.GetProperty(property).GetString() == value);

    /// <summary>A temporary file holding <paramref name="text"/>, deleted with the returned handle.</summary>
    private static TempFile WriteTemp(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), NewId("ow-input") + ".json");
        File.WriteAllText(path, text);
        return new TempFile(path);
    }

    private sealed record TempFile(string Path) : IDisposable
    {
        public void Dispose() => File.Delete(Path);
    }

    [Fact]
    public async Task Help_OfEachGroup_ListsItsCommands()
    {
        var queues = await ow.RunRawAsync(["queues", "--help"]);
        var schedules = await ow.RunRawAsync(["schedules", "--help"]);
        var batches = await ow.RunRawAsync(["batches", "--help"]);
        var set = await ow.RunRawAsync(["queues", "set", "--help"]);

        Assert.All([queues, schedules, batches, set], r => AssertExit(0, r));
        Assert.All((string[])["list", "get <name>", "set <name>", "pause <name>", "resume <name>"],
            c => Assert.Contains("  " + c, queues.StandardOutput, StringComparison.Ordinal));
        Assert.All((string[])["list", "get <id>", "set <id>", "pause <id>", "resume <id>", "trigger <id>", "delete <id>"],
            c => Assert.Contains("  " + c, schedules.StandardOutput, StringComparison.Ordinal));
        Assert.All((string[])["submit", "get <id>"], c => Assert.Contains("  " + c, batches.StandardOutput, StringComparison.Ordinal));

        // PUT semantics are spelled out where they bite.
        Assert.Contains("an option left out clears its setting", set.StandardOutput, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ queues

    [Fact]
    public async Task Queues_ListGetSetPauseResume()
    {
        var queue = NewId("q-ops");
        // A finished job: the per-queue counts are of ready and finished jobs (Scheduled and Waiting are counted cluster-wide only).
        AssertExit(0, await ow.RunAsync("submit", "noop", "--queue", queue, "--wait", "--json"));

        var list = await ow.RunAsync("queues", "list", "--json");
        var got = await ow.RunAsync("queues", "get", queue, "--json");
        var set = await ow.RunAsync("queues", "set", queue, "--max-concurrency", "3", "--rate", "50/1s", "--json");
        var paused = await ow.RunAsync("queues", "pause", queue, "--json");
        var resumed = await ow.RunAsync("queues", "resume", queue, "--json");
        var replaced = await ow.RunAsync("queues", "set", queue, "--rate", "600/1m", "--json");
        var table = await ow.RunAsync(["queues", "list"], environment: Wide);
        var detail = await ow.RunAsync("queues", "get", queue);
        var cleared = await ow.RunAsync("queues", "set", queue, "--paused", "--json");

        AssertExit(0, list);
        var listed = ByName(list.Json(), "name", queue);
        Assert.Equal(1, Count(listed, "Succeeded"));
        Assert.False(listed.GetProperty("paused").GetBoolean());
        AssertExit(0, got);
        Assert.Equal(queue, got.Json().GetProperty("name").GetString());
        Assert.Equal(1, Count(got.Json(), "Succeeded"));

        AssertExit(0, set);
        Assert.Equal(3, set.Json().GetProperty("maxConcurrency").GetInt32());
        Assert.Equal(50, set.Json().GetProperty("rateLimit").GetProperty("limit").GetInt32());
        Assert.Equal(1, set.Json().GetProperty("rateLimit").GetProperty("periodSeconds").GetDouble());

        // pause and resume change the pause alone; the limits stay.
        AssertExit(0, paused);
        Assert.True(paused.Json().GetProperty("paused").GetBoolean());
        Assert.Equal(3, paused.Json().GetProperty("maxConcurrency").GetInt32());
        AssertExit(0, resumed);
        Assert.False(resumed.Json().GetProperty("paused").GetBoolean());
        Assert.Equal(50, resumed.Json().GetProperty("rateLimit").GetProperty("limit").GetInt32());

        // set is PUT: what it leaves out is cleared.
        AssertExit(0, replaced);
        Assert.Equal(JsonValueKind.Null, replaced.Json().GetProperty("maxConcurrency").ValueKind);
        Assert.Equal(600, replaced.Json().GetProperty("rateLimit").GetProperty("limit").GetInt32());
        Assert.Equal(60, replaced.Json().GetProperty("rateLimit").GetProperty("periodSeconds").GetDouble());

        AssertExit(0, table);
        var row = Assert.Single(table.StandardOutput.Split('\n'), l => l.Contains(queue, StringComparison.Ordinal));
        Assert.Contains("600/1m", row, StringComparison.Ordinal);
        Assert.Contains("active", row, StringComparison.Ordinal);
        AssertExit(0, detail);
        Assert.Contains("Succeeded", detail.StandardOutput, StringComparison.Ordinal);

        AssertExit(0, cleared);
        Assert.True(cleared.Json().GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, cleared.Json().GetProperty("maxConcurrency").ValueKind);
        Assert.Equal(JsonValueKind.Null, cleared.Json().GetProperty("rateLimit").ValueKind);
    }

    [Fact]
    public async Task Queues_PausedQueue_StartsNothingUntilResumed()
    {
        var queue = NewId("q-pause");
        AssertExit(0, await ow.RunAsync("queues", "pause", queue, "--json"));
        var id = Id(await SubmitAsync("echo", "--queue", queue, "--payload", "1"));

        var held = await ow.RunAsync("wait", id, "--timeout", "2", "--json");
        var resumed = await ow.RunAsync("queues", "resume", queue);
        var ran = await ow.RunAsync("wait", id, "--timeout", "30", "--json");

        AssertExit(5, held);
        Assert.Equal("Queued", State(held.Json()));
        AssertExit(0, resumed);
        Assert.StartsWith($"Resumed queue {queue}.", resumed.StandardOutput, StringComparison.Ordinal);
        AssertExit(0, ran);
        Assert.Equal("Succeeded", State(ran.Json()));
    }

    [Fact]
    public async Task Queues_BadInput_OneLineErrorAndNonZeroExit()
    {
        var nowhere = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var unknown = NewId("q-unknown");

        var notFound = await ow.RunAsync("queues", "get", unknown, "--json");
        var badRate = await ow.RunAsync(["queues", "set", "q", "--rate", "fifty a second", "--json"], url: nowhere);
        var zeroConcurrency = await ow.RunAsync(["queues", "set", "q", "--max-concurrency", "0", "--json"], url: nowhere);
        var badName = await ow.RunAsync("queues", "set", "not a name", "--json");
        var serverLimit = await ow.RunAsync("queues", "set", NewId("q-limit"), "--rate", "5/25h", "--json");

        AssertExit(2, notFound);
        AssertOneLineError(notFound, $"No queue is named '{unknown}'");
        AssertExit(1, badRate);
        Assert.StartsWith("error: --rate 'fifty a second' is not LIMIT/PERIOD", badRate.ErrorLines[0], StringComparison.Ordinal);
        AssertExit(1, zeroConcurrency);
        Assert.StartsWith("error: --max-concurrency must be ≥ 1", zeroConcurrency.ErrorLines[0], StringComparison.Ordinal);
        AssertExit(2, badName);
        AssertOneLineError(badName, "The queue name 'not a name' must be");
        AssertExit(2, serverLimit);
        AssertOneLineError(serverLimit, "rateLimit.periodSeconds must be 0.001..86400 in whole milliseconds (was 90000)");
        Assert.All([notFound, badRate, zeroConcurrency, badName, serverLimit], r => Assert.Empty(r.StandardOutput));
    }

    // --------------------------------------------------------------- schedules

    [Fact]
    public async Task Schedules_SetGetListTriggerPauseResumeDelete()
    {
        var id = NewId("s-ops");
        var queue = NewId("q-sched");
        using var payload = WriteTemp("""{"report":"daily"}""");

        // Once a year at 03:00 in London: no tick fires during the test, only the triggers.
        var set = await ow.RunAsync("schedules", "set", id, "--cron", "0 3 1 1 *", "--type", "echo", "--payload-file", payload.Path, "--tz", "Europe/London",
            "--queue", queue, "--max-attempts", "2", "--misfire", "skip", "--overlap", "Skip", "--json");
        var got = await ow.RunAsync("schedules", "get", id, "--json");
        var before = await ow.RunAsync("schedules", "list", "--json");
        var triggered = await ow.RunAsync("schedules", "trigger", id, "--json");

        AssertExit(0, set);
        var schedule = set.Json();
        Assert.Equal(id, Id(schedule));
        Assert.Equal("0 3 1 1 *", schedule.GetProperty("cron").GetString());
        Assert.Equal("Europe/London", schedule.GetProperty("timeZone").GetString());
        Assert.Equal("echo", schedule.GetProperty("job").GetProperty("type").GetString());
        Assert.Equal(queue, schedule.GetProperty("job").GetProperty("queue").GetString());
        Assert.Equal(2, schedule.GetProperty("job").GetProperty("maxAttempts").GetInt32());
        Assert.Equal("daily", schedule.GetProperty("job").GetProperty("payload").GetProperty("report").GetString());
        Assert.Equal("Skip", schedule.GetProperty("misfire").GetString());
        Assert.Equal("Skip", schedule.GetProperty("overlap").GetString());
        Assert.False(schedule.GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, schedule.GetProperty("lastFire").ValueKind);
        var next = schedule.GetProperty("nextFire").GetDateTimeOffset();
        Assert.Equal((1, 1), (next.Month, next.Day));
        AssertExit(0, got);
        Assert.Equal(schedule.GetProperty("nextFire").GetString(), got.Json().GetProperty("nextFire").GetString());
        AssertExit(0, before);
        Assert.Equal(JsonValueKind.Null, ByName(before.Json(), "id", id).GetProperty("lastFire").ValueKind);

        AssertExit(0, triggered);
        var fire = triggered.Json().GetProperty("lastFire");
        var jobId = fire.GetProperty("jobId").GetString()!;
        Assert.StartsWith(id + "::manual-", jobId, StringComparison.Ordinal);
        Assert.Equal(schedule.GetProperty("nextFire").GetString(), triggered.Json().GetProperty("nextFire").GetString());
        var job = await ow.RunAsync("wait", jobId, "--timeout", "30", "--json");
        AssertExit(0, job);
        Assert.Equal("daily", job.Json().GetProperty("result").GetProperty("report").GetString());
        Assert.Equal(queue, job.Json().GetProperty("queue").GetString());
        Assert.Equal(id, job.Json().GetProperty("scheduleId").GetString());

        // The list shows the last fire with its job's state now, and the next fire.
        var after = await Poll.UntilAsync(() => ow.RunAsync("schedules", "list", "--json"),
            r => r.ExitCode == 0 && ByName(r.Json(), "id", id).GetProperty("lastFire").GetProperty("state").GetString() == "Succeeded", JobDeadline,
            $"'ow schedules list' to show {jobId} Succeeded");
        Assert.Equal(jobId, ByName(after.Json(), "id", id).GetProperty("lastFire").GetProperty("jobId").GetString());
        var table = await ow.RunAsync(["schedules", "list"], environment: Wide);
        AssertExit(0, table);
        var row = Assert.Single(table.StandardOutput.Split('\n'), l => l.Contains(id, StringComparison.Ordinal));
        Assert.Contains(jobId, row, StringComparison.Ordinal);
        Assert.Contains("Succeeded", row, StringComparison.Ordinal);
        Assert.Contains("Europe/London", row, StringComparison.Ordinal);
        var detail = await ow.RunAsync("schedules", "get", id);
        AssertExit(0, detail);
        Assert.Contains("last job", detail.StandardOutput, StringComparison.Ordinal);

        // Paused: no next fire, but trigger still submits (and --wait follows the job).
        var paused = await ow.RunAsync("schedules", "pause", id, "--json");
        var triggeredPaused = await ow.RunAsync("schedules", "trigger", id, "--wait", "--wait-timeout", "30", "--json");
        var resumed = await ow.RunAsync("schedules", "resume", id, "--json");

        AssertExit(0, paused);
        Assert.True(paused.Json().GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, paused.Json().GetProperty("nextFire").ValueKind);
        AssertExit(0, triggeredPaused);
        Assert.Equal("Succeeded", State(triggeredPaused.Json()));
        Assert.NotEqual(jobId, Id(triggeredPaused.Json()));
        AssertExit(0, resumed);
        Assert.False(resumed.Json().GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.String, resumed.Json().GetProperty("nextFire").ValueKind);

        // delete asks first: without a terminal and without --yes it refuses and keeps the schedule.
        var unconfirmed = await ow.RunAsync("schedules", "delete", id, "--json");
        var stillThere = await ow.RunAsync("schedules", "get", id, "--json");
        var deleted = await ow.RunAsync("schedules", "delete", id, "--yes", "--json");
        var gone = await ow.RunAsync("schedules", "get", id, "--json");

        AssertExit(1, unconfirmed);
        AssertOneLineError(unconfirmed, "pass --yes");
        Assert.Empty(unconfirmed.StandardOutput);
        AssertExit(0, stillThere);
        AssertExit(0, deleted);
        Assert.True(deleted.Json().GetProperty("deleted").GetBoolean());
        AssertExit(2, gone);
        AssertOneLineError(gone, $"No schedule has the id '{id}'.");
        AssertExit(0, await ow.RunAsync("get", jobId, "--json"));
    }

    [Fact]
    public async Task Schedules_EverySecond_ListShowsTheTicksJob()
    {
        var id = NewId("s-tick");
        var set = await ow.RunAsync("schedules", "set", id, "--cron", "* * * * * *", "--type", "noop");
        try
        {
            AssertExit(0, set);
            Assert.StartsWith($"Saved schedule {id}.", set.StandardOutput, StringComparison.Ordinal);

            var fired = await Poll.UntilAsync(() => ow.RunAsync("schedules", "get", id, "--json"),
                r => r.ExitCode == 0 && r.Json().GetProperty("lastFire").ValueKind == JsonValueKind.Object, JobDeadline, $"schedule {id} to fire");
            var jobId = fired.Json().GetProperty("lastFire").GetProperty("jobId").GetString()!;
            Assert.Matches($"^{id}::\\d{{8}}T\\d{{6}}Z$", jobId);
            AssertExit(0, await ow.RunAsync("get", jobId, "--json"));
        }
        finally
        {
            AssertExit(0, await ow.RunAsync("schedules", "delete", id, "--yes"));
        }
    }

    [Fact]
    public async Task Schedules_BadInput_OneLineErrorAndNonZeroExit()
    {
        var nowhere = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var id = NewId("s-bad");
        var missing = Path.Combine(Path.GetTempPath(), NewId("missing") + ".json");

        var badCron = await ow.RunAsync("schedules", "set", id, "--cron", "every day", "--type", "echo", "--json");
        var badZone = await ow.RunAsync("schedules", "set", id, "--cron", "0 3 * * *", "--type", "echo", "--tz", "Mars/Olympus_Mons", "--json");
        var badType = await ow.RunAsync("schedules", "set", id, "--cron", "0 3 * * *", "--type", "no-such-type", "--json");
        var notCreated = await ow.RunAsync("schedules", "get", id, "--json");
        var unknown = new List<OwResult>();
        foreach (var command in (string[][])[["get"], ["pause"], ["resume"], ["trigger"], ["delete", "--yes"]])
        {
            unknown.Add(await ow.RunAsync(["schedules", command[0], id, .. command[1..], "--json"]));
        }

        var badPolicy = await ow.RunAsync(["schedules", "set", id, "--cron", "0 3 * * *", "--type", "echo", "--misfire", "Sometimes", "--json"], url: nowhere);
        var noCron = await ow.RunAsync(["schedules", "set", id, "--type", "echo", "--json"], url: nowhere);
        var badPayload = await ow.RunAsync(["schedules", "set", id, "--cron", "0 3 * * *", "--type", "echo", "--payload", "{oops", "--json"], url: nowhere);
        var missingFile = await ow.RunAsync(["schedules", "set", id, "--cron", "0 3 * * *", "--type", "echo", "--payload-file", missing, "--json"], url: nowhere);

        AssertExit(2, badCron);
        AssertOneLineError(badCron, "cron 'every day' is not valid");
        AssertExit(2, badZone);
        AssertOneLineError(badZone, "timeZone 'Mars/Olympus_Mons' is not a known IANA time zone");
        AssertExit(2, badType);
        AssertOneLineError(badType, "no-such-type");
        AssertExit(2, notCreated);
        Assert.All(unknown, r =>
        {
            AssertExit(2, r);
            AssertOneLineError(r, $"No schedule has the id '{id}'.");
            Assert.Empty(r.StandardOutput);
        });
        AssertExit(1, badPolicy);
        Assert.StartsWith("error: ", badPolicy.ErrorLines[0], StringComparison.Ordinal);
        Assert.Contains("Sometimes", badPolicy.ErrorLines[0], StringComparison.Ordinal);
        AssertExit(1, noCron);
        Assert.Contains("--cron", noCron.ErrorLines[0], StringComparison.Ordinal);
        AssertExit(1, badPayload);
        AssertOneLineError(badPayload, "not valid JSON");
        AssertExit(1, missingFile);
        AssertOneLineError(missingFile, missing);
        Assert.All([badCron, badZone, badType, badPolicy, noCron, badPayload, missingFile], r => Assert.Empty(r.StandardOutput));
    }

    // ----------------------------------------------------------------- batches

    [Fact]
    public async Task Batches_SubmitGetWait_CompletionJobRuns()
    {
        var id = NewId("b-ok");
        using var file = WriteTemp("""
            [
              {"type": "echo", "payload": {"n": 1}},
              {"type": "sleep", "payload": {"ms": 1000}},
              {"type": "echo", "payload": {"n": 3}, "priority": 2}
            ]
            """);

        var submitted = await ow.RunAsync("batches", "submit", "--file", file.Path, "--id", id, "--completion-type", "echo", "--json");
        var waited = await ow.RunAsync("batches", "get", id, "--wait", "--timeout", "30", "--json");
        var human = await ow.RunAsync("batches", "get", id);
        var again = await ow.RunAsync("batches", "submit", "--file", file.Path, "--id", id, "--completion-type", "echo", "--json");
        var againHuman = await ow.RunAsync("batches", "submit", "--file", file.Path, "--id", id, "--completion-type", "echo");

        AssertExit(0, submitted);
        var created = submitted.Json();
        Assert.Equal(id, created.GetProperty("batch").GetProperty("id").GetString());
        Assert.Equal(3, created.GetProperty("batch").GetProperty("total").GetInt32());
        Assert.Equal([$"{id}::0", $"{id}::1", $"{id}::2"], created.GetProperty("jobs").EnumerateArray().Select(Id));
        Assert.All(created.GetProperty("jobs").EnumerateArray(), j => Assert.True(j.GetProperty("created").GetBoolean()));

        AssertExit(0, waited);
        var batch = waited.Json();
        Assert.True(batch.GetProperty("finished").GetBoolean());
        Assert.Equal(3, batch.GetProperty("states").GetProperty("Succeeded").GetInt32());
        Assert.Equal(0, batch.GetProperty("pending").GetInt32());
        var completionId = batch.GetProperty("completionJobId").GetString()!;
        Assert.Empty(waited.StandardError);

        // The completion job's default payload sums the batch up.
        var completion = await ow.RunAsync("wait", completionId, "--timeout", "30", "--json");
        AssertExit(0, completion);
        Assert.Equal(3, completion.Json().GetProperty("result").GetProperty("succeeded").GetInt32());
        var member = await ow.RunAsync("get", $"{id}::2", "--json");
        Assert.Equal(id, member.Json().GetProperty("batchId").GetString());
        Assert.Equal(3, member.Json().GetProperty("result").GetProperty("n").GetInt32());

        AssertExit(0, human);
        Assert.Contains("finished", human.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(completionId, human.StandardOutput, StringComparison.Ordinal);
        AssertExit(0, again);
        Assert.All(again.Json().GetProperty("jobs").EnumerateArray(), j => Assert.False(j.GetProperty("created").GetBoolean()));
        AssertExit(0, againHuman);
        Assert.StartsWith($"Batch already exists: {id}", againHuman.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batches_FailedMember_ExitsFour_AndTimeoutExitsFive()
    {
        var jobs = """[{"type": "echo", "payload": 1}, {"type": "fail", "payload": {"times": -1}, "maxAttempts": 1}]""";

        var failed = await ow.RunAsync(["batches", "submit", "--file", "-", "--wait", "--wait-timeout", "30", "--json"], stdin: jobs);

        AssertExit(4, failed);
        var batch = failed.Json();
        Assert.True(batch.GetProperty("finished").GetBoolean());
        Assert.Equal(1, batch.GetProperty("states").GetProperty("Succeeded").GetInt32());
        Assert.Equal(1, batch.GetProperty("states").GetProperty("DeadLettered").GetInt32());
        Assert.Contains("finished with 1 DeadLettered", Assert.Single(failed.ErrorLines), StringComparison.Ordinal);

        var id = NewId("b-slow");
        var slow = await ow.RunAsync(["batches", "submit", "--file", "-", "--id", id, "--json"], stdin: """[{"type": "sleep", "payload": {"ms": 120000}}]""");
        AssertExit(0, slow);
        var timedOut = await ow.RunAsync("batches", "get", id, "--wait", "--timeout", "1", "--json");
        AssertExit(0, await ow.RunAsync("cancel", $"{id}::0", "--json"));

        AssertExit(5, timedOut);
        Assert.False(timedOut.Json().GetProperty("finished").GetBoolean());
        Assert.Equal(1, timedOut.Json().GetProperty("pending").GetInt32());
        AssertOneLineError(timedOut, "timed out");
    }

    [Fact]
    public async Task Batches_BadInput_OneLineErrorAndNonZeroExit()
    {
        var nowhere = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var missing = Path.Combine(Path.GetTempPath(), NewId("missing") + ".json");
        using var notJson = WriteTemp("[{\"type\": ");
        using var notArray = WriteTemp("""{"type": "echo"}""");
        using var empty = WriteTemp("[]");
        using var notObjects = WriteTemp("""[{"type": "echo"}, "echo"]""");
        using var unknownType = WriteTemp("""[{"type": "echo"}, {"type": "no-such-type"}]""");
        var unknownId = NewId("b-unknown");

        var missingFile = await ow.RunAsync(["batches", "submit", "--file", missing, "--json"], url: nowhere);
        var badJson = await ow.RunAsync(["batches", "submit", "--file", notJson.Path, "--json"], url: nowhere);
        var object_ = await ow.RunAsync(["batches", "submit", "--file", notArray.Path, "--json"], url: nowhere);
        var none = await ow.RunAsync(["batches", "submit", "--file", empty.Path, "--json"], url: nowhere);
        var strings = await ow.RunAsync(["batches", "submit", "--file", notObjects.Path, "--json"], url: nowhere);
        var noFile = await ow.RunAsync(["batches", "submit", "--json"], url: nowhere);
        var badType = await ow.RunAsync("batches", "submit", "--file", unknownType.Path, "--json");
        var notFound = await ow.RunAsync("batches", "get", unknownId, "--json");
        var notFoundWait = await ow.RunAsync("batches", "get", unknownId, "--wait", "--json");

        AssertExit(1, missingFile);
        AssertOneLineError(missingFile, missing);
        AssertExit(1, badJson);
        AssertOneLineError(badJson, "not valid JSON");
        AssertExit(1, object_);
        AssertOneLineError(object_, "must be a JSON array");
        AssertExit(1, none);
        AssertOneLineError(none, "empty array");
        AssertExit(1, strings);
        AssertOneLineError(strings, "job 1");
        AssertExit(1, noFile);
        Assert.Contains("--file", noFile.ErrorLines[0], StringComparison.Ordinal);
        AssertExit(2, badType);
        AssertOneLineError(badType, "no-such-type");
        AssertExit(2, notFound);
        AssertOneLineError(notFound, $"No batch has the id '{unknownId}'.");
        AssertExit(2, notFoundWait);
        AssertOneLineError(notFoundWait, $"No batch has the id '{unknownId}'.");
        Assert.All([missingFile, badJson, object_, none, strings, noFile, badType, notFound, notFoundWait], r => Assert.Empty(r.StandardOutput));
    }

    // ------------------------------------------------------ dependencies, uniqueness

    [Fact]
    public async Task Submit_DependsOn_WaitsForTheDependency()
    {
        // The first dependency is held on a paused queue until the dependent is stored, however long the CLI's
        // processes take to start on a busy machine (a dependency that has finished by then leaves nothing to wait for).
        var queue = NewId("q-deps");
        AssertExit(0, await ow.RunAsync("queues", "set", queue, "--paused", "--json"));
        var first = Id(await SubmitAsync("echo", "--payload", "0", "--queue", queue));
        var second = Id(await SubmitAsync("echo", "--payload", "1"));

        var dependent = await SubmitAsync("echo", "--payload", "2", "--depends-on", first, "--depends-on", second);
        AssertExit(0, await ow.RunAsync("queues", "resume", queue, "--json"));
        var waited = await ow.RunAsync("wait", Id(dependent), "--timeout", "30", "--json");
        var shown = await ow.RunAsync("get", Id(dependent));

        Assert.Equal("Waiting", State(dependent));
        Assert.Equal([first, second], dependent.GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()!));
        AssertExit(0, waited);
        Assert.Equal("Succeeded", State((await ow.RunAsync("get", first, "--json")).Json()));
        AssertExit(0, shown);
        Assert.Contains("depends on", shown.StandardOutput, StringComparison.Ordinal);
        Assert.Contains(first, shown.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_FailedDependency_CancelsUnlessContinueOnFailure()
    {
        var failed = await ow.RunAsync("submit", "fail", "--payload", """{"times":-1}""", "--max-attempts", "1", "--wait", "--json");
        AssertExit(4, failed);
        var dependency = Id(failed.Json());

        var cancelled = await ow.RunAsync("submit", "echo", "--payload", "1", "--depends-on", dependency, "--wait", "--wait-timeout", "30", "--json");
        var continued = await ow.RunAsync("submit", "echo", "--payload", "2", "--depends-on", dependency, "--continue-on-failure", "--wait", "--wait-timeout", "30", "--json");

        AssertExit(4, cancelled);
        Assert.Equal("Cancelled", State(cancelled.Json()));
        AssertExit(0, continued);
        Assert.Equal("Succeeded", State(continued.Json()));
    }

    [Fact]
    public async Task Submit_UniqueKey_ReturnsTheExistingJob()
    {
        var key = NewId("unique");

        var first = await SubmitAsync("noop", "--unique-key", key, "--unique-for", "600", "--delay", "3600");
        var second = await ow.RunAsync("submit", "noop", "--unique-key", key, "--json");
        var human = await ow.RunAsync("submit", "noop", "--unique-key", key);

        Assert.Equal(key, first.GetProperty("uniqueKey").GetString());
        AssertExit(0, second);
        Assert.Equal(Id(first), Id(second.Json()));
        AssertExit(0, human);
        Assert.StartsWith($"Job already exists for unique key '{key}': {Id(first)}", human.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_BadDependencyOptions_AreRefused()
    {
        var nowhere = $"http://127.0.0.1:{RedisServer.FreePort()}";
        var unknown = NewId("no-such-job");

        var continueAlone = await ow.RunAsync(["submit", "echo", "--continue-on-failure", "--json"], url: nowhere);
        var uniqueForAlone = await ow.RunAsync(["submit", "echo", "--unique-for", "60", "--json"], url: nowhere);
        var unknownDependency = await ow.RunAsync("submit", "echo", "--depends-on", unknown, "--json");

        AssertExit(1, continueAlone);
        Assert.Equal("error: --continue-on-failure needs --depends-on.", continueAlone.ErrorLines[0]);
        AssertExit(1, uniqueForAlone);
        Assert.Equal("error: --unique-for needs --unique-key.", uniqueForAlone.ErrorLines[0]);
        AssertExit(2, unknownDependency);
        AssertOneLineError(unknownDependency, $"No job has the id '{unknown}'");
        Assert.All([continueAlone, uniqueForAlone, unknownDependency], r => Assert.Empty(r.StandardOutput));
    }
}
