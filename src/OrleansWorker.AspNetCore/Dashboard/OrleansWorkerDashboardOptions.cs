using Microsoft.Extensions.Options;

namespace OrleansWorker.AspNetCore;

/// <summary>
/// Options of the jobs dashboard (<see cref="DashboardEndpoints.MapOrleansWorkerDashboard"/>); the shipped hosts bind them
/// from <c>Worker:Dashboard</c> (<see cref="DashboardServices.AddOrleansWorkerDashboard"/>). Validated at start
/// (ValidateOnStart) and when the dashboard is mapped: every problem is reported at once.
/// </summary>
public sealed class OrleansWorkerDashboardOptions
{
    /// <summary>The configuration section the shipped hosts bind these options to.</summary>
    public const string SectionName = "Worker:Dashboard";

    /// <summary>
    /// Where the job API is mapped: the prefix given to <see cref="JobEndpoints.MapOrleansWorker"/>, from the application's
    /// root (its path base), e.g. <c>/api</c>. The browser reaches it by a relative URL. Default: <c>""</c> (the root).
    /// </summary>
    public string ApiPath { get; set; } = "";

    /// <summary>
    /// Shows jobs without any button that changes them, and a session signed in here cannot change jobs through the job API
    /// either (403). Default: false.
    /// </summary>
    public bool ReadOnly { get; set; }

    /// <summary>
    /// An absolute http(s) URL with <c>{traceId}</c> in it, the job's W3C trace id put in its place: a link from a job to its
    /// trace, e.g. in Grafana's Explore on Tempo. Default: unset (no link).
    /// </summary>
    public string? TraceUrlTemplate { get; set; }

    /// <summary>
    /// With no API key (<c>Worker:ApiKey</c>) and no authorization policy on the dashboard, it answers only requests from the
    /// local machine; true lets anyone who reaches it in, which is only safe where the network itself is trusted (or the
    /// job API is open anyway, as in the local compose stack). Default: false.
    /// </summary>
    public bool AllowRemoteWithoutAuthentication { get; set; }

    /// <summary>How long a sign-in with the API key lasts before the browser must sign in again. Default: 12 hours.</summary>
    public TimeSpan SignInLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Every problem of these options, with the values found; empty when they are valid.</summary>
    internal IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (ApiPath is null)
        {
            errors.Add("Worker:Dashboard:ApiPath must not be null (use \"\" for the root).");
        }
        else if (ApiPath.Length > 0 && (!ApiPath.StartsWith('/') || ApiPath.EndsWith('/') || ApiPath.Contains("//", StringComparison.Ordinal)
            || ApiPath.IndexOfAny(['?', '#', '{', '}', '\\', ' ']) >= 0))
        {
            errors.Add($"Worker:Dashboard:ApiPath must be \"\" or a path such as /api: starting with '/', not ending with one, without '?', '#', '{{', '}}', '\\' or spaces (was '{ApiPath}').");
        }

        if (!string.IsNullOrEmpty(TraceUrlTemplate))
        {
            if (!TraceUrlTemplate.Contains("{traceId}", StringComparison.Ordinal))
            {
                errors.Add($"Worker:Dashboard:TraceUrlTemplate must contain {{traceId}} where the trace id goes (was '{TraceUrlTemplate}').");
            }
            else if (!Uri.TryCreate(TraceUrlTemplate.Replace("{traceId}", "0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"Worker:Dashboard:TraceUrlTemplate must be an absolute http or https URL (was '{TraceUrlTemplate}').");
            }
        }

        if (SignInLifetime < TimeSpan.FromMinutes(1) || SignInLifetime > TimeSpan.FromDays(30))
        {
            errors.Add($"Worker:Dashboard:SignInLifetime must be 1 minute to 30 days (was {SignInLifetime}).");
        }

        return errors;
    }

    /// <summary>Builds the options, applies <paramref name="configure"/> and throws with every problem when they are invalid.</summary>
    internal static OrleansWorkerDashboardOptions Create(Action<OrleansWorkerDashboardOptions>? configure)
    {
        var options = new OrleansWorkerDashboardOptions();
        configure?.Invoke(options);
        return Check(options);
    }

    /// <summary>Returns <paramref name="options"/>, or throws with every problem when they are invalid.</summary>
    internal static OrleansWorkerDashboardOptions Check(OrleansWorkerDashboardOptions options)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(nameof(OrleansWorkerDashboardOptions), typeof(OrleansWorkerDashboardOptions), errors);
        }

        return options;
    }
}
