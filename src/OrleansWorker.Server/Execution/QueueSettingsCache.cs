namespace OrleansWorker.Execution;

/// <summary>Every queue's settings as this silo last read them (on change notifications, and every few seconds).</summary>
internal sealed class QueueSettingsCache
{
    private static readonly QueueSettings Defaults = new();
    private volatile IReadOnlyDictionary<string, QueueSettings> _all = new Dictionary<string, QueueSettings>();

    public IReadOnlyDictionary<string, QueueSettings> All => _all;

    public QueueSettings Of(string queue) => _all.TryGetValue(queue, out var settings) ? settings : Defaults;

    public void Set(IReadOnlyDictionary<string, QueueSettings> all) => _all = all;
}

/// <summary>A queue this silo takes from, and its weight (<c>Worker:Queues</c> entries <c>name</c> or <c>name=weight</c>).</summary>
internal readonly record struct WeightedQueue(string Queue, int Weight)
{
    public static bool TryParse(string entry, out WeightedQueue queue)
    {
        var split = entry.IndexOf('=', StringComparison.Ordinal);
        if (split < 0)
        {
            queue = new WeightedQueue(entry.Trim(), 1);
            return true;
        }

        if (int.TryParse(entry.AsSpan(split + 1), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var weight) && weight is >= 1 and <= 1000)
        {
            queue = new WeightedQueue(entry[..split].Trim(), weight);
            return true;
        }

        queue = default;
        return false;
    }

    /// <summary>
    /// A weighted random order (Sidekiq's): each position is drawn with probability proportional to the weights of the
    /// queues not yet drawn, so every queue is sometimes first and heavier ones usually are.
    /// </summary>
    public static List<WeightedQueue> Shuffle(IReadOnlyList<WeightedQueue> queues, Random random)
    {
        var left = queues.ToList();
        var order = new List<WeightedQueue>(left.Count);
        while (left.Count > 0)
        {
            var pick = random.Next(left.Sum(q => q.Weight));
            var i = 0;
            while (pick >= left[i].Weight)
            {
                pick -= left[i].Weight;
                i++;
            }

            order.Add(left[i]);
            left.RemoveAt(i);
        }

        return order;
    }
}
