using Microsoft.AspNetCore.Http;

namespace OrleansWorker.AspNetCore;

/// <summary>Options of the job HTTP API (bound by the shipped hosts from the <c>Worker</c> section).</summary>
public sealed class OrleansWorkerApiOptions
{
    /// <summary>
    /// When set, every request to the job API (and whatever else the host guards with <see cref="ApiKeyFilter"/>) must
    /// carry it in the <c>X-Api-Key</c> header, or come from a browser signed in to the jobs dashboard with it.
    /// Default: unset (no key; use the host's own authorization instead or too).
    /// </summary>
    public string? ApiKey { get; set; }
}

/// <summary>
/// When <see cref="OrleansWorkerApiOptions.ApiKey"/> is set, requires it: in the <c>X-Api-Key</c> header (compared in
/// constant time), or as the jobs dashboard's sign-in cookie. A request authenticated by that cookie that changes
/// something must also carry the dashboard's anti-forgery token, and is refused for a read-only dashboard session.
/// </summary>
public sealed class ApiKeyFilter : IEndpointFilter
{
    /// <summary>The header that carries the key.</summary>
    public const string HeaderName = "X-Api-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var caller = OperatorAccess.Identify(http);
        return caller.Credential switch
        {
            Credential.NoKeyConfigured or Credential.Header => await next(context),
            Credential.Cookie => await OperatorAccess.CheckCookieWriteAsync(http, caller) ?? await next(context),
            _ => Problems.Create(StatusCodes.Status401Unauthorized, "API key required",
                $"Send the configured API key (Worker:ApiKey) in the {HeaderName} header, or sign in to the jobs dashboard with it."),
        };
    }

    /// <summary>Whether the request carries the configured key in the <c>X-Api-Key</c> header (always true when none is configured).</summary>
    public static bool IsAllowed(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        return OperatorAccess.Identify(http).Credential is Credential.NoKeyConfigured or Credential.Header;
    }
}
