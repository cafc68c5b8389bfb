using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using OrleansWorker.Client;

namespace OrleansWorker.Tests.Library;

/// <summary>
/// What <see cref="IJobClient"/> says after every try of a submission failed: it asks the store which of the jobs exist
/// and answers from that — all of them (the submission was accepted), none, or, when a submission spans the store's
/// shards and was stored shard by shard, how many. The grains are stand-ins (the failure cannot be caused on demand in
/// a real store); the client is the real one, resolved as an application resolves it.
/// </summary>
public sealed class JobClientSubmissionTests
{
    [Fact]
    public async Task AfterEveryTryFailed_TheClientSaysWhetherAllNoneOrPartWereStored()
    {
        JobRequest[] requests = [new("noop") { Id = "a" }, new("noop") { Id = "b" }, new("noop") { Id = "c" }];
        var all = SubmitAsync(requests, stored: ["a", "b", "c"]);
        var none = SubmitAsync(requests, stored: []);
        var part = SubmitAsync(requests, stored: ["a", "c"]);

        var accepted = await all;
        Assert.Equal(["a", "b", "c"], accepted.Select(r => r.Id));
        Assert.All(accepted, r => Assert.False(r.Created));

        var nothing = await Assert.ThrowsAsync<JobServiceUnavailableException>(() => none);
        Assert.EndsWith("Nothing was stored.", nothing.Message, StringComparison.Ordinal);

        var partly = await Assert.ThrowsAsync<JobServiceUnavailableException>(() => part);
        Assert.Contains("2 of 3 jobs were stored", partly.Message, StringComparison.Ordinal);
        Assert.Contains("resubmitting them with the same ids stores the rest", partly.Message, StringComparison.Ordinal);
    }

    private static async Task<IReadOnlyList<EnqueueResult>> SubmitAsync(IReadOnlyList<JobRequest> requests, string[] stored)
    {
        var manager = DispatchProxy.Create<IJobManagerGrain, FailingManager>();
        ((FailingManager)(object)manager).Stored = [.. stored];
        var grains = DispatchProxy.Create<IGrainFactory, OneGrainFactory>();
        ((OneGrainFactory)(object)grains).Manager = manager;
        await using var services = new ServiceCollection()
            .AddSingleton(grains)
            .AddJobClient(configure: o => o.CallTimeout = TimeSpan.FromSeconds(3))
            .BuildServiceProvider();
        return await services.GetRequiredService<IJobClient>().EnqueueManyAsync(requests);
    }

    /// <summary>Every submission fails as a store failure does; a job reads back when it is in <see cref="Stored"/>.</summary>
    public class FailingManager : DispatchProxy
    {
        public HashSet<string> Stored { get; set; } = [];

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            nameof(IJobManagerGrain.EnqueueAsync) => Task.FromException<EnqueueResponse>(new JobServiceUnavailableException("The job store failed.")),
            nameof(IJobManagerGrain.GetAsync) when args?[0] is string id => Task.FromResult(Stored.Contains(id)
                ? new JobView { Id = id, Type = "noop", Queue = "default", State = JobState.Queued }
                : null),
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
    }

    /// <summary>Answers every GetGrain with the one manager.</summary>
    public class OneGrainFactory : DispatchProxy
    {
        public IJobManagerGrain? Manager { get; set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IGrainFactory.GetGrain) ? Manager : throw new NotSupportedException(targetMethod?.Name);
    }
}
