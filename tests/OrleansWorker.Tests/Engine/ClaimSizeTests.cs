using OrleansWorker.Execution;
using OrleansWorker.Hosting;

namespace OrleansWorker.Tests.Engine;

/// <summary>How many jobs a claim takes: the free slots, plus those expected to free while the claim is on its way.</summary>
public sealed class ClaimSizeTests
{
    private static readonly WorkerOptions Options = new() { MaxConcurrentJobs = 100, WriteBatchSize = 512 };

    [Fact]
    public void WithNothingRunning_AClaimTakesEverySlot()
    {
        Assert.Equal(100, JobDispatcher.ClaimSize(Options, executing: 0, waiting: 0, busy: 0, endedSinceLastClaim: 0));
    }

    [Fact]
    public void LongJobs_FreeNothingWhileAClaimIsOnItsWay_SoAClaimTakesOnlyTheFreeSlots()
    {
        Assert.Equal(40, JobDispatcher.ClaimSize(Options, executing: 60, waiting: 0, busy: 60, endedSinceLastClaim: 0));
        Assert.Equal(0, JobDispatcher.ClaimSize(Options, executing: 100, waiting: 0, busy: 100, endedSinceLastClaim: 0));

        // One slot freed since the last claim: one more job is claimed ahead, to wait for the next slot that frees.
        Assert.Equal(2, JobDispatcher.ClaimSize(Options, executing: 99, waiting: 0, busy: 99, endedSinceLastClaim: 1));
    }

    [Fact]
    public void ShortJobs_EndWithinAClaim_SoAClaimAlsoTakesTheSlotsTheyWillFree()
    {
        // The last claim's 50 jobs were just handed off; the 50 before them ended while it was on its way.
        Assert.Equal(100, JobDispatcher.ClaimSize(Options, executing: 50, waiting: 0, busy: 50, endedSinceLastClaim: 50));

        // Never more ahead than run now (only those can free a slot), and what already waits for a slot counts.
        Assert.Equal(100, JobDispatcher.ClaimSize(Options, executing: 50, waiting: 0, busy: 50, endedSinceLastClaim: 5_000));
        Assert.Equal(70, JobDispatcher.ClaimSize(Options, executing: 50, waiting: 30, busy: 80, endedSinceLastClaim: 50));
    }

    [Fact]
    public void OutcomesWaitingForTheirWrite_AndTheWriteBatch_BoundAClaim()
    {
        // 500 outcomes not yet stored (a slow store): the silo holds 600 of its 612, so at most 12 more.
        Assert.Equal(12, JobDispatcher.ClaimSize(Options, executing: 100, waiting: 0, busy: 600, endedSinceLastClaim: 100));

        var wide = new WorkerOptions { MaxConcurrentJobs = 2_000, WriteBatchSize = 512 };
        Assert.Equal(512, JobDispatcher.ClaimSize(wide, executing: 0, waiting: 0, busy: 0, endedSinceLastClaim: 0));
    }
}
