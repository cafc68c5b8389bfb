using System.Diagnostics;
using OpenTelemetry.Trace;

namespace OrleansWorker.ServiceDefaults;

/// <summary>
/// Parent-based sampling that keeps Orleans grain-call spans only for the job grains.
/// </summary>
/// <remarks>
/// Orleans routes the spans of every grain interface whose namespace starts with "Orleans" to its runtime source
/// (<c>Microsoft.Orleans.Runtime</c>, see <c>ActivityPropagationGrainCallFilter.GetActivitySource</c> in
/// dotnet/orleans) — and "OrleansWorker" does. So the runtime source must be exported to see
/// <c>IJobManagerGrain</c>/<c>IJobGrain</c> calls, and this sampler drops the runtime's own calls (membership,
/// directory, management), whose span names have the same <c>IInterface/Method</c> shape.
/// </remarks>
public sealed class JobTraceSampler : Sampler
{
    private static readonly string[] KeptInterfaces = [nameof(IJobManagerGrain) + "/"];
    private readonly Sampler _inner = new ParentBasedSampler(new AlwaysOnSampler());

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        var name = samplingParameters.Name;
        if (samplingParameters.Kind is ActivityKind.Client or ActivityKind.Server && IsGrainCall(name) && !KeptInterfaces.Any(k => name.StartsWith(k, StringComparison.Ordinal)))
        {
            return new SamplingResult(SamplingDecision.Drop);
        }

        return _inner.ShouldSample(samplingParameters);
    }

    /// <summary>Orleans names grain-call spans <c>IInterface/Method</c>: no spaces, one slash, an interface name first.</summary>
    private static bool IsGrainCall(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        return slash > 1 && name[0] == 'I' && !name.Contains(' ', StringComparison.Ordinal) && name.IndexOf('/', slash + 1) < 0;
    }
}
