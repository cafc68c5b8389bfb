using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using OrleansWorker.Tests.Engine;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Library;

/// <summary>Typed handlers and the typed client, end to end on the in-process cluster.</summary>
public sealed class TypedHandlerTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    [Fact]
    public async Task TypedPayloadAndResult_RoundTrip_ByPayloadType()
    {
        var id = NewId("greet");
        var submitted = await fixture.Jobs.EnqueueAsync(new Greet("Ada", Times: 2), new JobOptions { Id = id });
        Assert.True(submitted.Created);
        var greeting = await fixture.Jobs.WaitForResultAsync<Greeting>(id, TimeSpan.FromSeconds(20));
        Assert.Equal("Hello, Ada! Hello, Ada!", greeting!.Text);
        var job = (await fixture.Jobs.GetAsync(id))!;
        Assert.Equal(("Greet", "{\"name\":\"Ada\",\"times\":2}"), (job.Type, job.Payload));
    }

    [Fact]
    public async Task EnqueueByHandlerType_UsesTheHandlersName()
    {
        var id = NewId("by-handler");
        await fixture.Jobs.EnqueueAsync<StrictHandler, StrictInput>(new StrictInput("ok"), new JobOptions { Id = id });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(("strict.check", JobState.Succeeded), (job.Type, job.State));
        Assert.Throws<ArgumentException>(() => { _ = fixture.Jobs.EnqueueAsync<StrictHandler, Greet>(new Greet("x")); });
    }

    [Fact]
    public async Task PayloadOfTheWrongShape_FailsOnce_WithTypeAndPath_AndIsNotRetried()
    {
        var id = NewId("bad-shape");
        await fixture.Jobs.EnqueueAsync(new JobRequest("Greet", "{\"name\":42}") { Id = id, MaxAttempts = 5 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.DeadLettered, job.State);
        var attempt = Assert.Single(job.Attempts);
        Assert.Equal(AttemptOutcome.Failed, attempt.Outcome);
        Assert.Equal("PayloadError", job.LastError!.Type);
        Assert.Contains(typeof(Greet).FullName!, job.LastError.Message, StringComparison.Ordinal);
        Assert.Contains("$.name", job.LastError.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingPayload_ForATypedHandler_IsAPayloadError()
    {
        var id = NewId("no-payload");
        await fixture.Jobs.EnqueueAsync(new JobRequest("Greet") { Id = id, MaxAttempts = 3 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal((JobState.DeadLettered, 1, "PayloadError"), (job.State, job.Attempts.Count, job.LastError!.Type));
    }

    [Fact]
    public async Task UnrecoverableJobException_DeadLettersAtOnce()
    {
        var id = NewId("unrecoverable");
        await fixture.Jobs.EnqueueAsync(new StrictInput("nope"), new JobOptions { Id = id, MaxAttempts = 5 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal((JobState.DeadLettered, 1), (job.State, job.Attempts.Count));
        Assert.Equal(typeof(UnrecoverableJobException).FullName, job.LastError!.Type);
        Assert.Contains("can never be processed", job.LastError.Message, StringComparison.Ordinal);
        var ex = await Assert.ThrowsAsync<JobFailedException>(() => fixture.Jobs.WaitForResultAsync<object>(id, TimeSpan.FromSeconds(5)));
        Assert.Equal(JobState.DeadLettered, ex.Job!.State);
    }

    [Fact]
    public async Task RateLimited_RunsAgainAfterRetryAfter_WithoutUsingAnAttempt()
    {
        var id = NewId("throttled");
        await fixture.Jobs.EnqueueAsync(new ThrottledCall(id), new JobOptions { Id = id, MaxAttempts = 1 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal([AttemptOutcome.RateLimited, AttemptOutcome.Succeeded], job.Attempts.Select(a => a.Outcome));
        Assert.Equal([1, 1], job.Attempts.Select(a => a.Number));
        Assert.True(job.Attempts[1].StartedAt - job.Attempts[0].EndedAt!.Value >= TimeSpan.FromMilliseconds(150), "the second attempt waited for Retry-After");
    }

    [Fact]
    public async Task UnknownType_IsRefused_NamingTheKnownTypes()
    {
        var ex = await Assert.ThrowsAsync<JobValidationException>(() => fixture.Jobs.EnqueueAsync(new JobRequest("no.such.job")));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("unknown_type", error.Code);
        Assert.Contains("known types: counting, echo, fail, Greet, noop, not-json, sleep, strict.check, ThrottledCall", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registration_ConstructsNoHandler_UntilAJobRuns()
    {
        Assert.Equal(0, CountingHandler.Constructed);
        var id = NewId("counting");
        await fixture.Jobs.EnqueueAsync(new JobRequest("counting") { Id = id });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal("\"counted\"", job.Result);
        Assert.Equal(1, CountingHandler.Constructed);
    }
}

/// <summary>Registration rules that need no cluster.</summary>
public sealed class RegistrationTests
{
    private sealed class OtherGreetHandler : IJobHandler<Greet>
    {
        public Task ExecuteAsync(Greet payload, JobContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class NotAHandler;

    [Fact]
    public async Task TwoHandlersForOneName_FailTheStart_NamingBoth()
    {
        var builder = Host.CreateApplicationBuilder();
        var data = Path.Combine(Path.GetTempPath(), "ow-reg-" + Guid.NewGuid().ToString("N"));
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort: RedisServer.FreePort(), gatewayPort: RedisServer.FreePort());
            silo.AddOrleansWorker(w => w.UseEmbeddedJobStore(o => o.DataDirectory = data).AddJob<GreetHandler>().AddJob<OtherGreetHandler>());
        });
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Job type 'Greet' has 2 handlers", ex.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(GreetHandler).FullName!, ex.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(OtherGreetHandler).FullName!, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddOrleansWorker_CalledTwice_RegistersEverythingOnce()
    {
        var services = new ServiceCollection();
        var silo = new FakeSiloBuilder(services);
        silo.AddOrleansWorker(w => w.UseEmbeddedJobStore().AddJob<GreetHandler>());
        var count = services.Count;
        silo.AddOrleansWorker(w => w.UseEmbeddedJobStore().AddJob<GreetHandler>());
        Assert.Equal(count, services.Count);
        Assert.Throws<InvalidOperationException>(() => silo.AddOrleansWorker(w => w.UseRedisJobStore("localhost")));
    }

    [Theory]
    [InlineData(null, 10.0)] // Orleans' default (30 s) is capped: each attempt's undisposed activation timer lives this long
    [InlineData(4.0, 4.0)] // a shorter timeout set by the host is kept
    public void ActivationTimeout_IsCappedAt10Seconds_UnlessTheHostSetsLess(double? hostSeconds, double expectedSeconds)
    {
        var services = new ServiceCollection();
        if (hostSeconds is { } seconds)
        {
            services.Configure<Orleans.Configuration.GrainCollectionOptions>(o => o.ActivationTimeout = TimeSpan.FromSeconds(seconds));
        }

        Assert.Equal(TimeSpan.FromSeconds(30), new Orleans.Configuration.GrainCollectionOptions().ActivationTimeout);
        new FakeSiloBuilder(services).AddOrleansWorker(w => w.UseEmbeddedJobStore());
        using var provider = services.BuildServiceProvider();
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), provider.GetRequiredService<IOptions<Orleans.Configuration.GrainCollectionOptions>>().Value.ActivationTimeout);
    }

    [Fact]
    public void AddJob_OfATypeThatIsNoHandler_IsRefusedAtOnce()
    {
        var silo = new FakeSiloBuilder(new ServiceCollection());
        var ex = Assert.Throws<ArgumentException>(() => silo.AddOrleansWorker(w => w.AddJob<NotAHandler>()));
        Assert.Contains("IJobHandler", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultNames_ComeFromTheAttribute_ThePayloadType_OrTheHandler()
    {
        Assert.Equal("Greet", JobNames.ForHandler<GreetHandler>());
        Assert.Equal("strict.check", JobNames.ForHandler<StrictHandler>());
        Assert.Equal("strict.check", JobNames.ForPayload<StrictInput>());
        Assert.Equal("Counting", JobNames.ForHandler<CountingHandler>());
    }

    private sealed class FakeSiloBuilder(IServiceCollection services) : ISiloBuilder
    {
        public IServiceCollection Services { get; } = services;

        public Microsoft.Extensions.Configuration.IConfiguration Configuration { get; } = new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build();
    }
}
