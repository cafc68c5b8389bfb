using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace OrleansWorker.AspNetCore;

/// <summary>
/// One mapped jobs dashboard: its options, and where it ended up (from the application's root, group prefixes included),
/// which other guarded pages need to send a browser to its sign-in page.
/// </summary>
internal sealed class DashboardSite(string mappedPath, OrleansWorkerDashboardOptions options, IServiceProvider services)
{
    private string? _path;

    public OrleansWorkerDashboardOptions Options { get; } = options;

    public IServiceProvider Services { get; } = services;

    /// <summary>The dashboard's path from the application's root, e.g. <c>/ui</c> (read from its index endpoint's route).</summary>
    public string Path => _path ??= Resolve();

    private string Resolve()
    {
        var index = Services.GetService<EndpointDataSource>()?.Endpoints.OfType<RouteEndpoint>()
            .FirstOrDefault(e => ReferenceEquals(e.Metadata.GetMetadata<DashboardIndex>()?.Site, this));
        var raw = index?.RoutePattern.RawText?.TrimEnd('/');
        return string.IsNullOrEmpty(raw) ? mappedPath : raw.StartsWith('/') ? raw : "/" + raw;
    }
}

/// <summary>Marks the index endpoint of a <see cref="DashboardSite"/>.</summary>
internal sealed record DashboardIndex(DashboardSite Site);

/// <summary>
/// One set of guarded endpoints (the jobs dashboard's own, or another page guarded like it, such as the Orleans
/// dashboard); also the endpoint metadata by which the start-up log finds them.
/// </summary>
/// <param name="Name">What to call it in messages.</param>
/// <param name="Site">The jobs dashboard whose sign-in and options apply.</param>
internal sealed record DashboardSettings(string Name, DashboardSite Site);

/// <summary>
/// Who may open a dashboard. With an API key configured: the key's header or the sign-in cookie (else the sign-in page
/// for a browser, 401 for anything else). With none: anyone the host's authorization policy let through when there is
/// one; else anyone when <see cref="OrleansWorkerDashboardOptions.AllowRemoteWithoutAuthentication"/>; else only the local machine.
/// </summary>
internal sealed class DashboardAccessFilter(DashboardSettings settings) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var caller = OperatorAccess.Identify(http);
        switch (caller.Credential)
        {
            case Credential.Header:
                return await next(context);
            case Credential.Cookie:
                return await OperatorAccess.CheckCookieWriteAsync(http, caller) ?? await next(context);
            case Credential.Missing:
                return WantsPage(http.Request)
                    ? Results.Redirect(SignInUrl(http.Request))
                    : Problems.Create(StatusCodes.Status401Unauthorized, "Sign-in required",
                        $"The {settings.Name} needs the API key (Worker:ApiKey): sign in at {settings.Site.Path}/signin, or send it in the {ApiKeyFilter.HeaderName} header.");
            default:
                if (OperatorAccess.HasAuthorizationPolicy(http) || settings.Site.Options.AllowRemoteWithoutAuthentication || OperatorAccess.IsLocal(http))
                {
                    return await next(context);
                }

                return Problems.Create(StatusCodes.Status403Forbidden, "Open to local requests only",
                    $"The {settings.Name} answers only requests from the machine it runs on, because neither an API key nor an authorization policy protects it. " +
                    "To open it to others: set an API key (Worker:ApiKey, e.g. the environment variable Worker__ApiKey) and sign in with it; " +
                    "or require an authorization policy on it (MapOrleansWorkerDashboard(...).RequireAuthorization(\"policy\")); " +
                    "or, on a trusted network only, set Worker:Dashboard:AllowRemoteWithoutAuthentication=true (OrleansWorkerDashboardOptions.AllowRemoteWithoutAuthentication).");
        }
    }

    private static bool WantsPage(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);

    private string SignInUrl(HttpRequest request)
    {
        var signIn = settings.Site.Path + "/signin";
        var back = OperatorAccess.Relative(signIn, request.Path.Value ?? "/") + request.QueryString.Value;
        return OperatorAccess.Relative(request.Path.Value ?? "/", signIn) + "?returnUrl=" + Uri.EscapeDataString(back);
    }
}

/// <summary>Security headers of the dashboard's own responses.</summary>
internal static class DashboardHeaders
{
    /// <summary>Scripts, styles and requests only from this origin; no framing; no inline script; no referrer to other sites.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    public static void Apply(HttpResponse response, bool page)
    {
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        if (page)
        {
            response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            response.Headers.XFrameOptions = "DENY";
            response.Headers.CacheControl = "no-store";
        }
        else
        {
            response.Headers.CacheControl = CacheControlHeaderValue.NoCacheString;
        }
    }
}
