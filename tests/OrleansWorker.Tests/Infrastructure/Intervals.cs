namespace OrleansWorker.Tests.Infrastructure;

/// <summary>Arithmetic on time intervals, e.g. attempts from their start to their end.</summary>
public static class Intervals
{
    /// <summary>The deepest overlap of [start, end] intervals (an end and a start at the same instant do not overlap).</summary>
    public static int MaxOverlap(IEnumerable<(DateTimeOffset Start, DateTimeOffset End)> intervals)
    {
        var events = intervals.SelectMany(i => new[] { (i.Start, 1), (i.End, -1) }).OrderBy(e => e.Item1).ThenBy(e => e.Item2).ToList();
        int depth = 0, max = 0;
        foreach (var (_, delta) in events)
        {
            depth += delta;
            max = Math.Max(max, depth);
        }

        return max;
    }
}
