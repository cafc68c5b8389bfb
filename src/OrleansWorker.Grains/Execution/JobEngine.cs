using Microsoft.Extensions.Options;
using OrleansWorker.Hosting;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>The per-silo core shared by the grains and the dispatcher: store, group-committed writes, identity.</summary>
internal sealed class JobEngine : IAsyncDisposable
{
    private readonly GroupCommitter<IReadOnlyList<NewJob>, IReadOnlyList<EnqueueResult?>> _enqueues;
    private readonly GroupCommitter<AttemptCompletion, CompletionEffect> _completions;

    public JobEngine(IJobStore store, IOptions<WorkerOptions> options, TimeProvider time, AttemptTracker tracker, JobInstruments instruments, ILocalSiloDetails silo)
    {
        Store = store;
        Options = options.Value;
        Time = time;
        Tracker = tracker;
        Instruments = instruments;
        Owner = silo.SiloAddress.ToParsableString();
        _enqueues = new(WriteEnqueuesAsync, Math.Max(1, Options.WriteBatchSize / 16));
        _completions = new(Store.CompleteAsync, Options.WriteBatchSize);
    }

    public IJobStore Store { get; }

    public WorkerOptions Options { get; }

    public TimeProvider Time { get; }

    public AttemptTracker Tracker { get; }

    public JobInstruments Instruments { get; }

    /// <summary>This silo's name as a lease owner (its parsable silo address, unique per incarnation).</summary>
    public string Owner { get; }

    public Task<IReadOnlyList<EnqueueResult?>> EnqueueAsync(IReadOnlyList<NewJob> jobs) => _enqueues.SubmitAsync(jobs);

    public Task<CompletionEffect> CompleteAsync(AttemptCompletion completion) => _completions.SubmitAsync(completion);

    public async ValueTask DisposeAsync()
    {
        await _enqueues.DisposeAsync();
        await _completions.DisposeAsync();
    }

    private async Task<IReadOnlyList<IReadOnlyList<EnqueueResult?>>> WriteEnqueuesAsync(IReadOnlyList<IReadOnlyList<NewJob>> batches)
    {
        if (batches.Count == 1)
        {
            return [await Store.EnqueueAsync(batches[0])];
        }

        var all = await Store.EnqueueAsync(batches.SelectMany(b => b).ToList());
        var split = new IReadOnlyList<EnqueueResult?>[batches.Count];
        var offset = 0;
        for (var i = 0; i < batches.Count; i++)
        {
            split[i] = all.Skip(offset).Take(batches[i].Count).ToList();
            offset += batches[i].Count;
        }

        return split;
    }
}
