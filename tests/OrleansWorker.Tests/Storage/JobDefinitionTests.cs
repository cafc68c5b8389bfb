using OrleansWorker.Storage;

namespace OrleansWorker.Tests.Storage;

/// <summary>The compact layout's definition field, and when a cluster writes it.</summary>
public sealed class JobDefinitionTests
{
    public static TheoryData<string, string, int, long, long> Definitions => new()
    {
        // type, queue, priority, seq, created ms
        { "noop", "default", 0, 1_795_909_645_045L << 12, 1_795_909_645_045L },
        { "a|b|c", "q|1", -5, (1_795_909_645_045L << 12) + 4095, 1_795_909_644_000L },
        { "Grüße 東京 🚀", "ü-queue:1", 100, 7, 1_795_909_645_045L },
        { "", "x", 1, 0, 0 },
        { "t", "", 0, long.MaxValue, 123 },
    };

    [Theory]
    [MemberData(nameof(Definitions))]
    public void ReadsBackExactlyWhatWasFormatted_WhateverTheCharacters(string type, string queue, int priority, long seq, long created)
    {
        var definition = new JobDefinition(type, queue, priority, seq, MaxAttempts: 5, MaxInterruptions: 7, TimeoutMs: 300_000, CreatedMs: created);
        Assert.True(JobDefinition.TryParse(definition.Format(), out var read));
        Assert.Equal(definition, read);
    }

    [Fact]
    public void ANoOpJobsDefinition_StaysUnderRedis64ByteCompactHashLimit()
    {
        var created = 1_795_909_645_045L;
        var formatted = new JobDefinition("noop", "default", 0, (created << 12) + 17, 5, 5, 300_000, created).Format();
        Assert.Equal("0|7356045906104337|5|5|300000|0|7|defaultnoop", formatted);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(formatted) <= 64);
    }

    [Fact]
    public void AbsentOrEmpty_IsAJobOfAnEarlierVersion_AndAMangledOneIsAnError()
    {
        Assert.False(JobDefinition.TryParse(null, out _));
        Assert.False(JobDefinition.TryParse("", out _));
        var error = Assert.Throws<FormatException>(() => JobDefinition.TryParse("1|2|3", out _));
        Assert.Contains("2 of its 7 numbers", error.Message);
    }

    [Fact]
    public void LegacyFields_ReadBackTheSameDefinition()
    {
        var definition = new JobDefinition("email", "mail", 3, 99 << 12, 4, 2, 1000, 98);
        var fields = definition.LegacyFields();
        var byName = Enumerable.Range(0, fields.Length / 2).ToDictionary(i => fields[i * 2], i => fields[(i * 2) + 1]);
        Assert.Equal(definition, JobDefinition.FromLegacy(JobFields.Legacy.Select(f => byName[f]).ToArray()));
    }

    private static SiloStats Report(string address, int layout) => new() { Address = address, StoreLayout = layout };

    [Fact]
    public void AClusterWritesTheOldestLayoutThatOneOfItsSilosReads()
    {
        string[] cluster = ["10.0.0.1:11111@1", "10.0.0.2:11111@1"];
        Assert.Equal(4, JobStore.LayoutVersion);
        Assert.Equal(4, JobStore.ClusterLayout(cluster, [Report(cluster[0], 4), Report(cluster[1], 4)]));

        // A silo of 0.4.2 (layout 3) in a rolling upgrade: layout 3 until it is gone.
        Assert.Equal(3, JobStore.ClusterLayout(cluster, [Report(cluster[0], 4), Report(cluster[1], 3)]));

        // A silo of 0.4 or 0.4.1 (layout 2) in a rolling upgrade: layout 2 until it is gone.
        Assert.Equal(2, JobStore.ClusterLayout(cluster, [Report(cluster[0], 3), Report(cluster[1], 2)]));

        // A silo of 0.3 (reports no layout), one that has not reported yet, or no silo known at all: the layout every version reads.
        Assert.Equal(1, JobStore.ClusterLayout(cluster, [Report(cluster[0], 3), Report(cluster[1], 0)]));
        Assert.Equal(1, JobStore.ClusterLayout(cluster, [Report(cluster[0], 3)]));
        Assert.Equal(1, JobStore.ClusterLayout([], [Report(cluster[0], 3)]));

        // Reports of silos that left the cluster do not count either way; a later version's layout counts as this one's newest.
        Assert.Equal(4, JobStore.ClusterLayout([cluster[0]], [Report(cluster[0], 4), Report("10.0.0.9:11111@1", 0)]));
        Assert.Equal(4, JobStore.ClusterLayout(cluster, [Report(cluster[0], 5), Report(cluster[1], 4)]));
    }
}
