using OrleansWorker.Execution;
using OrleansWorker.Hosting;
using OrleansWorker.Storage;

namespace OrleansWorker.Tests.Engine;

public class JobValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly WorkerOptions _options = new() { MaxPayloadBytes = 100 };

    private IReadOnlyList<JobValidationError> Validate(out List<NewJob> jobs, params JobRequest[] requests) =>
        JobValidator.Validate(requests, _options, t => t is "noop" or "echo", ["echo", "noop"], Now, () => "generated", out jobs);

    [Fact]
    public void Validate_ValidRequest_AppliesDefaults()
    {
        var errors = Validate(out var jobs, new JobRequest("noop"));
        Assert.Empty(errors);
        var job = Assert.Single(jobs);
        Assert.Equal("generated", job.Id);
        Assert.Equal("default", job.Queue);
        Assert.Equal(5, job.MaxAttempts);
        Assert.Equal(TimeSpan.FromMinutes(5), job.Timeout);
        Assert.Null(job.RunAt);
    }

    [Fact]
    public void Validate_Delay_BecomesRunAt()
    {
        Validate(out var jobs, new JobRequest("noop") { Delay = TimeSpan.FromSeconds(30) });
        Assert.Equal(Now.AddSeconds(30), jobs[0].RunAt);
    }

    [Theory]
    [InlineData("type", "unknown_type")]
    [InlineData("id", "invalid_id")]
    [InlineData("queue", "invalid_queue")]
    [InlineData("priority", "out_of_range")]
    [InlineData("maxAttempts", "out_of_range")]
    [InlineData("timeoutSeconds", "out_of_range")]
    [InlineData("payload", "payload_too_large")]
    [InlineData("payload", "invalid_json")]
    public void Validate_BadField_IsNamedWithCode(string field, string code)
    {
        var request = (field, code) switch
        {
            ("type", _) => new JobRequest("nope"),
            ("id", _) => new JobRequest("noop") { Id = "has space" },
            ("queue", _) => new JobRequest("noop") { Queue = "a/b" },
            ("priority", _) => new JobRequest("noop") { Priority = 5000 },
            ("maxAttempts", _) => new JobRequest("noop") { MaxAttempts = 0 },
            ("timeoutSeconds", _) => new JobRequest("noop") { Timeout = TimeSpan.Zero },
            ("payload", "payload_too_large") => new JobRequest("noop", "\"" + new string('x', 200) + "\""),
            _ => new JobRequest("noop", "{not json"),
        };
        var errors = Validate(out var jobs, request);
        var error = Assert.Single(errors);
        Assert.Equal(field, error.Field);
        Assert.Equal(code, error.Code);
        Assert.Empty(jobs);
    }

    [Fact]
    public void Validate_OneBadItemInBatch_RejectsWholeBatchAndNamesIndex()
    {
        var errors = Validate(out var jobs, new JobRequest("noop"), new JobRequest("echo"), new JobRequest("missing"));
        Assert.Equal(2, Assert.Single(errors).Index);
        Assert.Empty(jobs);
    }

    [Fact]
    public void Validate_Dependencies_InTheSubmission_MustComeEarlier_AndNotBeAnsweredByAUniqueKey()
    {
        var errors = Validate(
            out var jobs,
            new JobRequest("noop") { Id = "first", DependsOn = ["second"] },
            new JobRequest("noop") { Id = "second" },
            new JobRequest("noop") { Id = "unique", UniqueKey = "u-1" },
            new JobRequest("noop") { Id = "after-unique", DependsOn = ["unique"] },
            new JobRequest("noop") { Id = "after-second", DependsOn = ["second", "elsewhere"] });

        Assert.Empty(jobs);
        Assert.Equal([(0, "dependency_order"), (3, "unique_dependency")], errors.Select(e => (e.Index, e.Code)));
    }

    [Fact]
    public void Validate_TooManyDependencies_IsOneError_NotOnePerDependency()
    {
        // Each of 1,001 dependencies would also be "later in the submission" (and one is repeated): the request is refused
        // for its count alone, so a huge one costs one check, not one per dependency and job.
        var deps = Enumerable.Range(0, JobValidator.MaxDependencies).Select(i => $"later-{i}").Append("later-0").ToList();
        var requests = new[] { new JobRequest("noop") { Id = "many", DependsOn = deps } }
            .Concat(Enumerable.Range(0, JobValidator.MaxDependencies).Select(i => new JobRequest("noop") { Id = $"later-{i}" }))
            .ToArray();

        var errors = Validate(out _, requests);

        var error = Assert.Single(errors);
        Assert.Equal((0, "dependsOn", "too_many_dependencies"), (error.Index, error.Field, error.Code));
    }

    [Fact]
    public void Validate_DuplicateIdsInBatch_AreRefused()
    {
        var errors = Validate(out _, new JobRequest("noop") { Id = "a" }, new JobRequest("noop") { Id = "a" });
        Assert.Equal("duplicate_id", Assert.Single(errors).Code);
    }

    [Fact]
    public void OptionsValidator_ReportsEveryProblemAtOnce()
    {
        var options = new WorkerOptions { MaxConcurrentJobs = 0, DefaultMaxAttempts = 500, RetryBaseDelay = TimeSpan.FromMinutes(10), RetryMaxDelay = TimeSpan.FromMinutes(1), IdleTrimDelay = TimeSpan.FromSeconds(-1) };
        var result = new WorkerOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        Assert.Contains(failures, f => f.Contains("MaxConcurrentJobs", StringComparison.Ordinal) && f.Contains("was 0", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("DefaultMaxAttempts", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("RetryMaxDelay", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("IdleTrimDelay must not be negative", StringComparison.Ordinal));
        Assert.Equal(4, failures.Count);
    }
}
