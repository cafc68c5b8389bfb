using OrleansWorker.Execution;
using OrleansWorker.Hosting;

namespace OrleansWorker;

/// <summary>
/// One attempt of a job as a grain activation: activated on the silo that claimed the attempt (<see cref="Hosting.LocalSiloPlacement"/>,
/// and <see cref="Hosting.LocalOnlyGrainDirectory"/> answers its directory lookups and registration at once), it runs the handler,
/// stores the outcome and deactivates. Cancel and progress reach it through the store and the dispatcher of its silo,
/// not by grain address, so nothing about a job ever waits on an activation or a directory partition that lives on a
/// silo that vanished.
/// </summary>
/// <remarks>
/// Until 0.4.0 this was a <c>[StatelessWorker(1)]</c> of type <c>ow-attempt</c> behind the interface alias
/// <c>OrleansWorker.IJobAttemptGrain</c>. Both names changed with the placement: in a cluster mid-upgrade each silo calls
/// only its own attempt grains, and with new names no silo can pick up the other version's placement (Orleans may read a
/// grain type's properties from any silo's manifest) for a type it places.
/// </remarks>
[LocalSiloPlacement]
[GrainType("ow-run")]
internal sealed class JobGrain(JobEngine engine, AttemptRunner runner) : Grain, IJobGrain
{
    private static readonly Task<bool> Yes = Task.FromResult(true);
    private static readonly Task<bool> No = Task.FromResult(false);
    private RunningAttempt? _running;

    public Task<bool> StartAsync(ClaimedAttempt attempt)
    {
        if (_running is not null)
        {
            // A duplicate delivery of the same claim: already under way.
            return Yes;
        }

        var running = new RunningAttempt(attempt);
        var admission = engine.Tracker.Admit(running);
        if (admission == Admission.Started && !engine.IsOwner(attempt.Owner))
        {
            // The silo lost its lease or was revoked after the claim (read after Admit's fence; the epoch moved on before
            // the snapshot of attempts it abandoned): its job is recovered, so it must not start here.
            engine.Tracker.Unstart(running);
            admission = Admission.Refused;
        }

        if (admission != Admission.Started)
        {
            running.Dispose();
            DeactivateOnIdle();
            return admission == Admission.AlreadyRunning ? Yes : No;
        }

        _running = running;
        DelayDeactivation(attempt.Timeout + TimeSpan.FromMinutes(1));
        _ = RunAsync(running);
        return Yes;
    }

    private async Task RunAsync(RunningAttempt running)
    {
        try
        {
            await runner.RunAsync(running);
        }
        finally
        {
            engine.Tracker.Remove(running);
            running.Finished.TrySetResult();
            running.Dispose();
            DeactivateOnIdle();
        }
    }
}
