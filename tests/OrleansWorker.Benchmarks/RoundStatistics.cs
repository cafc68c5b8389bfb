namespace OrleansWorker.Benchmarks;

/// <summary>
/// What a few rounds of a noisy measurement can say: their median, and an interval that holds the median of the
/// distribution the rounds come from with a stated probability, whatever that distribution is.
/// </summary>
/// <remarks>
/// The interval is the classic one from order statistics (the sign test's): with the R values sorted, the k-th smallest
/// and the k-th largest enclose the true median unless at least R − k + 1 of the R values fall on one side of it, so
/// its coverage is 1 − 2·P(Binomial(R, ½) ≤ k − 1). It assumes only that the rounds are independent draws of one
/// distribution, which alternating the order of the two systems from round to round is there to make true.
/// </remarks>
internal static class RoundStatistics
{
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentOutOfRangeException.ThrowIfZero(values.Count);
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// The narrowest order-statistic interval for the median whose coverage is at least <paramref name="wanted"/>; with
    /// too few values for that, the widest one (the lowest and the highest value) and its smaller coverage.
    /// </summary>
    public static (double Low, double High, double Coverage) MedianInterval(IReadOnlyList<double> values, double wanted = 0.9)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(values.Count, 2);
        var sorted = values.Order().ToList();
        var n = sorted.Count;
        var best = 1;
        for (var k = 2; k <= n / 2; k++)
        {
            if (Coverage(n, k) < wanted)
            {
                break;
            }

            best = k;
        }

        return (sorted[best - 1], sorted[n - best], Coverage(n, best));
    }

    /// <summary>1 − 2·P(Binomial(n, ½) ≤ k − 1): how often the k-th smallest and k-th largest of n draws enclose the median.</summary>
    public static double Coverage(int n, int k)
    {
        double below = 0;
        double choose = 1; // C(n, 0)
        for (var i = 0; i < k; i++)
        {
            below += choose;
            choose = choose * (n - i) / (i + 1);
        }

        return 1 - (2 * below / Math.Pow(2, n));
    }
}
