using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace OrleansWorker.Benchmarks;

/// <summary>Samples this process's allocations by type (the runtime's AllocationTick, about one event per 100 KB).</summary>
internal sealed class AllocationTypes : EventListener
{
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) == true && e.Payload is { } p)
        {
            var name = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? p[t] as string ?? "?" : "?";
            var amount = e.PayloadNames!.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(p[a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
            _bytes.AddOrUpdate(name, amount, (_, v) => v + amount);
        }
    }

    public string Top(int n, int jobs)
    {
        var all = _bytes.ToArray();
        _bytes.Clear();
        var total = all.Sum(x => x.Value);
        return $"sampled {total / (double)jobs:0} B/job:\n" + string.Join("\n", all.OrderByDescending(x => x.Value).Take(n).Select(x => $"  {x.Value / (double)jobs,8:0} B/job  {x.Key}"));
    }
}
