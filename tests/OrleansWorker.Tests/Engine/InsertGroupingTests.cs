using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Storage;
using OrleansWorker.Tests.Infrastructure;
using OrleansWorker.Tests.Storage;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// How the engine groups submissions into store calls: by jobs (at most <c>Worker:WriteBatchSize</c>) where a long
/// call holds up others (Redis), by submissions where each call is a commit of its own (the embedded engine).
/// </summary>
public sealed class InsertGroupingTests : IAsyncDisposable
{
    private readonly List<string> _directories = [];
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<int> _calls = [];

    public ValueTask DisposeAsync()
    {
        foreach (var directory in _directories)
        {
            TempDirectory.Delete(directory);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>An embedded store that says how large calls should be, records each write call's units and holds them all until released.</summary>
    private SharedBackend Backend(FakeTimeProvider time, bool prefersLargeCalls)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ow-group-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        return new SharedBackend(new SqliteKvBackend(directory, EmbeddedDurability.Process, 1024 * 1024, time, exclusive: false), async units =>
        {
            lock (_calls)
            {
                _calls.Add(units.Count);
            }

            _firstHeld.TrySetResult();
            await _release.Task;
        }, prefersLargeCalls);
    }

    private static NewJob Job(EngineHarness silo, string id) =>
        new(id, "noop", "default", 0, null, 1, TimeSpan.FromSeconds(30), null, silo.Time.GetUtcNow(), null) { Seq = silo.Engine.Sequence.Next(1) };

    [Fact]
    public async Task TheEmbeddedEngine_PrefersLargeCalls()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ow-group-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        await using var embedded = new SqliteKvBackend(directory, EmbeddedDurability.Process, 1024 * 1024, TimeProvider.System, exclusive: false);
        Assert.True(((IKvBackend)embedded).PrefersLargeCalls);
    }

    [Theory]
    [InlineData(false, new[] { 300, 300, 300 })] // Redis-like: 300 + 300 is over 512 jobs
    [InlineData(true, new[] { 900 })] // embedded: the three submissions share one commit
    public async Task SubmissionsThatArriveTogether_AreGroupedAsTheStorePrefers(bool prefersLargeCalls, int[] expectedJobsPerCall)
    {
        await using var silo = EngineHarness.Create(time => Backend(time, prefersLargeCalls), new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));
        Assert.Equal(prefersLargeCalls, silo.Store.PrefersLargeCalls);

        // The first submission's call is held: the next three queue behind it.
        var first = silo.Engine.EnqueueAsync([Job(silo, "first")]);
        await _firstHeld.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = Enumerable.Range(0, 3)
            .Select(k => silo.Engine.EnqueueAsync(Enumerable.Range(0, 300).Select(i => Job(silo, $"s{k}-{i}")).ToList()))
            .ToList();
        _release.SetResult();
        var results = await Task.WhenAll(queued.Append(first)).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(results.SelectMany(r => r), r => Assert.True(r!.Created));

        // Each call carries one unit per job and one publish for the queue; smaller calls (queue registration) are left out.
        int[] large;
        lock (_calls)
        {
            large = _calls.Where(units => units >= 300).Select(units => units - 1).ToArray();
        }

        Assert.Equal(expectedJobsPerCall, large);
    }
}
