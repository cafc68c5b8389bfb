namespace OrleansWorker.Tests.Library;

/// <summary>A typed payload: the job type defaults to its name, "Greet".</summary>
public sealed record Greet(string Name, int Times = 1);

public sealed record Greeting(string Text);

/// <summary>Typed payload and result.</summary>
public sealed class GreetHandler : IJobHandler<Greet, Greeting>
{
    public Task<Greeting> ExecuteAsync(Greet payload, JobContext context, CancellationToken cancellationToken) =>
        Task.FromResult(new Greeting(string.Join(" ", Enumerable.Repeat($"Hello, {payload.Name}!", payload.Times))));
}

[JobName("strict.check")]
public sealed record StrictInput(string Value);

/// <summary>Refuses anything but "ok" as unrecoverable (no retry).</summary>
public sealed class StrictHandler : IJobHandler<StrictInput>
{
    public Task ExecuteAsync(StrictInput payload, JobContext context, CancellationToken cancellationToken) =>
        payload.Value == "ok" ? Task.CompletedTask : throw new UnrecoverableJobException($"'{payload.Value}' can never be processed.");
}

public sealed record ThrottledCall(string Key);

/// <summary>Rate-limited by the "remote side" on its first try, then fine.</summary>
public sealed class ThrottledHandler : IJobHandler<ThrottledCall>
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Calls = new();

    public Task ExecuteAsync(ThrottledCall payload, JobContext context, CancellationToken cancellationToken) =>
        Calls.AddOrUpdate(payload.Key, 1, (_, n) => n + 1) == 1
            ? throw new JobRateLimitedException(TimeSpan.FromMilliseconds(200), "429 Too Many Requests")
            : Task.CompletedTask;
}

/// <summary>Answers with the address of the silo it runs on (after 20 ms of work, so that one silo's slots fill up).</summary>
public sealed class SiloHandler(Orleans.Runtime.ILocalSiloDetails silo) : IJobHandler
{
    public async Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(20, cancellationToken);
        return System.Text.Json.JsonSerializer.Serialize(silo.SiloAddress.ToParsableString());
    }
}

/// <summary>Counts its constructions, to show that registering a handler builds none.</summary>
public sealed class CountingHandler : IJobHandler
{
    private static int _constructed;

    public CountingHandler() => Interlocked.Increment(ref _constructed);

    public static int Constructed => Volatile.Read(ref _constructed);

    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken) => Task.FromResult<string?>("\"counted\"");
}
