using OrleansWorker.Benchmarks;

namespace OrleansWorker.Tests.Benchmarks;

/// <summary>
/// The harness' interval for the median of a few rounds (linked from tests/OrleansWorker.Benchmarks): the order
/// statistics it picks, the confidence it states, and that the stated confidence is what it delivers on draws whose
/// median is known.
/// </summary>
public sealed class RoundStatisticsTests
{
    [Fact]
    public void FiveRounds_GiveTheLowestAndHighest_At94Percent()
    {
        var (low, high, coverage) = RoundStatistics.MedianInterval([2.3, 1.7, 2.0, 2.6, 1.9]);

        Assert.Equal(1.7, low);
        Assert.Equal(2.6, high);
        Assert.Equal(1 - (2.0 / 32), coverage, precision: 12);
    }

    [Fact]
    public void NineRounds_DropOneAtEachEnd_At96Percent()
    {
        double[] rounds = [9, 1, 8, 2, 7, 3, 6, 4, 5];

        var (low, high, coverage) = RoundStatistics.MedianInterval(rounds);

        // The 2nd smallest and 2nd largest: 1 − 2·(C(9,0) + C(9,1)) / 2⁹.
        Assert.Equal(2, low);
        Assert.Equal(8, high);
        Assert.Equal(1 - (2.0 * 10 / 512), coverage, precision: 12);
        Assert.Equal(5, RoundStatistics.Median(rounds));
    }

    [Fact]
    public void TooFewRounds_SayHowLittleTheyCover()
    {
        var (low, high, coverage) = RoundStatistics.MedianInterval([3.0, 1.0, 2.0]);

        Assert.Equal((1.0, 3.0), (low, high));
        Assert.Equal(0.75, coverage, precision: 12);
    }

    [Fact]
    public void TheStatedConfidence_IsHowOftenTheIntervalHoldsTheMedian()
    {
        // Skewed draws (exponential, median ln 2), as throughput rounds on a busy machine are: no symmetry assumed.
        var random = new Random(12);
        var trueMedian = Math.Log(2);
        foreach (var rounds in new[] { 5, 9 })
        {
            const int Trials = 20_000;
            var held = 0;
            var stated = 0.0;
            for (var t = 0; t < Trials; t++)
            {
                var draws = Enumerable.Range(0, rounds).Select(_ => -Math.Log(1 - random.NextDouble())).ToArray();
                var (low, high, coverage) = RoundStatistics.MedianInterval(draws);
                stated = coverage;
                if (low <= trueMedian && trueMedian <= high)
                {
                    held++;
                }
            }

            var observed = (double)held / Trials;
            Assert.True(Math.Abs(observed - stated) < 0.01,
                $"{rounds} rounds: the interval held the median in {observed:P2} of {Trials} trials, but states {stated:P2}");
        }
    }

    [Fact]
    public void Median_OfAnEvenCount_IsTheMeanOfTheMiddleTwo()
    {
        Assert.Equal(2.5, RoundStatistics.Median([4, 1, 3, 2]));
    }
}
