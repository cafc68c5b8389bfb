using System.Diagnostics.CodeAnalysis;
using Orleans.GrainDirectory;
using Orleans.Metadata;
using Orleans.Runtime.GrainDirectory;

namespace OrleansWorker.Hosting;

/// <summary>
/// The grain directory of the attempt grains and the job manager (a stateless worker): it knows none of them, and says so
/// at once; a registration succeeds without being kept anywhere.
/// </summary>
/// <remarks>
/// Both are always activated on the calling silo (an attempt grain by <see cref="LocalSiloPlacement"/>), yet before
/// placing one Orleans asks the grain's directory whether it exists. With the default (distributed) directory that is a call
/// to the silo owning the grain id's hash range; while that silo is cut off but not declared dead (Orleans suppresses
/// the vote for up to a minute when the connection was recently active), the call waits for the 30 s response timeout
/// and placement fails. Every attempt has a new grain id, so a third of the attempts a 3-silo cluster started during a
/// partition waited 30 s on a silo they had nothing to do with, then were handed back. Answering here keeps placement local.
/// An attempt grain used to be a stateless worker too; as a plain grain it activates without a stateless worker's wrapper
/// (a work queue and an idle-check timer per activation), and its registration here costs nothing.
/// </remarks>
internal sealed class LocalOnlyGrainDirectory : IGrainDirectory, IGrainDirectoryResolver
{
    private static readonly HashSet<GrainType> Types = [GrainType.Create("ow-run"), GrainType.Create("ow-jobs")];

    public bool TryResolveGrainDirectory(GrainType grainType, GrainProperties? properties, [NotNullWhen(true)] out IGrainDirectory? grainDirectory)
    {
        grainDirectory = Types.Contains(grainType) ? this : null;
        return grainDirectory is not null;
    }

    public Task<GrainAddress?> Lookup(GrainId grainId) => Task.FromResult<GrainAddress?>(null);

    public Task<GrainAddress?> Register(GrainAddress address) => Task.FromResult<GrainAddress?>(address);

    public Task Unregister(GrainAddress address) => Task.CompletedTask;

    public Task UnregisterSilos(List<SiloAddress> siloAddresses) => Task.CompletedTask;
}
