namespace OrleansWorker.Handlers;

/// <summary><c>noop</c>: does nothing and succeeds.</summary>
internal sealed class NoopHandler : IJobHandler
{
    public string Name => "noop";

    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}

/// <summary><c>echo</c>: the result is the payload.</summary>
internal sealed class EchoHandler : IJobHandler
{
    public string Name => "echo";

    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken) => Task.FromResult(context.Payload);
}

/// <summary><c>sleep</c>: waits <c>{"ms": n}</c> milliseconds, honouring cancellation.</summary>
internal sealed class SleepHandler(TimeProvider time) : IJobHandler
{
    public string Name => "sleep";

    public async Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
    {
        var args = context.GetPayload<SleepArgs>() ?? new SleepArgs(0);
        if (args.Ms is < 0 or > 86_400_000)
        {
            throw new ArgumentOutOfRangeException(nameof(context), $"sleep: ms must be 0..86400000 (was {args.Ms}).");
        }

        await Task.Delay(TimeSpan.FromMilliseconds(args.Ms), time, cancellationToken);
        return null;
    }

    private sealed record SleepArgs(int Ms);
}

/// <summary><c>fail</c>: throws on the first <c>{"times": n}</c> attempts, then succeeds; <c>-1</c> always throws.</summary>
internal sealed class FailHandler : IJobHandler
{
    public string Name => "fail";

    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
    {
        var args = context.GetPayload<FailArgs>() ?? new FailArgs(-1);
        if (args.Times < 0 || context.Attempt <= args.Times)
        {
            throw new InvalidOperationException($"fail: attempt {context.Attempt} fails as asked (times = {args.Times}).");
        }

        return Task.FromResult<string?>(null);
    }

    private sealed record FailArgs(int Times);
}
