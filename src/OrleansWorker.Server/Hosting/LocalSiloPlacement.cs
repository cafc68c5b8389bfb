using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace OrleansWorker.Hosting;

/// <summary>
/// Placement on the calling silo, always: what a stateless worker gets, for a grain with one activation per id. An attempt
/// grain is called only by the dispatcher of the silo that claimed the attempt, so its activation belongs there.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
internal sealed class LocalSiloPlacement : PlacementStrategy
{
    public static readonly LocalSiloPlacement Instance = new();
}

/// <summary>Places a grain with <see cref="LocalSiloPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
internal sealed class LocalSiloPlacementAttribute() : PlacementAttribute(LocalSiloPlacement.Instance);

/// <summary>Answers with the local silo, whatever its status (a draining silo still runs the attempts it hands out).</summary>
internal sealed class LocalSiloPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context) =>
        Task.FromResult(context.LocalSilo);
}
