namespace OrleansWorker.Handlers;

/// <summary><c>noop</c>: does nothing and succeeds.</summary>
internal sealed class NoopHandler : IJobHandler
{
    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}

/// <summary><c>echo</c>: the result is the payload.</summary>
internal sealed class EchoHandler : IJobHandler
{
    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken) => Task.FromResult(context.Payload);
}

/// <summary><c>sleep</c>: waits <c>{"ms": n}</c> milliseconds, honouring cancellation.</summary>
internal sealed class SleepHandler(TimeProvider time) : IJobHandler<SleepHandler.Args>
{
    public async Task ExecuteAsync(Args payload, JobContext context, CancellationToken cancellationToken)
    {
        if (payload.Ms is < 0 or > 86_400_000)
        {
            throw new UnrecoverableJobException($"sleep: ms must be 0..86400000 (was {payload.Ms}).");
        }

        await Task.Delay(TimeSpan.FromMilliseconds(payload.Ms), time, cancellationToken);
    }

    /// <summary>The payload of <c>sleep</c>.</summary>
    internal sealed record Args(int Ms);
}

/// <summary><c>fail</c>: throws on the first <c>{"times": n}</c> attempts, then succeeds; <c>-1</c> always throws.</summary>
internal sealed class FailHandler : IJobHandler<FailHandler.Args>
{
    public Task ExecuteAsync(Args payload, JobContext context, CancellationToken cancellationToken)
    {
        if (payload.Times < 0 || context.Attempt <= payload.Times)
        {
            throw new InvalidOperationException($"fail: attempt {context.Attempt} fails as asked (times = {payload.Times}).");
        }

        return Task.CompletedTask;
    }

    /// <summary>The payload of <c>fail</c>.</summary>
    internal sealed record Args(int Times = -1);
}
