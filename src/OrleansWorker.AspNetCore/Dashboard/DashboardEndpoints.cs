using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansWorker.AspNetCore;

/// <summary>The jobs dashboard: a small web UI over the job API, served from this assembly.</summary>
public static class DashboardEndpoints
{
    private static readonly ConditionalWeakTable<RouteGroupBuilder, DashboardSite> Sites = [];

    /// <summary>
    /// Maps the jobs dashboard at <paramref name="path"/> (<c>/ui</c>: open <c>/ui/</c>). It calls the job API mapped by
    /// <see cref="JobEndpoints.MapOrleansWorker"/> at <see cref="OrleansWorkerDashboardOptions.ApiPath"/>, by relative URLs, so it works
    /// under a path base and behind a proxy that strips a prefix. Needs <c>builder.Services.AddOrleansWorkerDashboard(...)</c>
    /// (<see cref="DashboardServices.AddOrleansWorkerDashboard"/>), whose options it uses unless <paramref name="configure"/> is given.
    /// </summary>
    /// <remarks>
    /// Who may open it: with an API key (<see cref="OrleansWorkerApiOptions.ApiKey"/>), whoever signs in with it (or sends
    /// it in <c>X-Api-Key</c>); with an authorization policy on the returned group, whoever the policy lets in (and the key
    /// too, when one is set); with neither, only the local machine unless
    /// <see cref="OrleansWorkerDashboardOptions.AllowRemoteWithoutAuthentication"/>. The start-up log says which applies.
    /// </remarks>
    /// <returns>The route group, for the host's conventions: <c>app.MapOrleansWorkerDashboard().RequireAuthorization("ops")</c>.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid (every problem is listed).</exception>
    public static RouteGroupBuilder MapOrleansWorkerDashboard(this IEndpointRouteBuilder app, string path = "/ui", Action<OrleansWorkerDashboardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length < 2 || !path.StartsWith('/') || path.EndsWith('/') || path.IndexOfAny(['{', '}', '?', '#', '\\', ' ']) >= 0 || path.Contains("//", StringComparison.Ordinal))
        {
            throw new ArgumentException($"The dashboard's path must look like /ui: start with '/', not end with one, no route parameters (was '{path}').", nameof(path));
        }

        if (app.ServiceProvider.GetService<DashboardServicesMarker>() is null || app.ServiceProvider.GetService<IAntiforgery>() is null)
        {
            throw new InvalidOperationException("The jobs dashboard needs its services (anti-forgery, options): call builder.Services.AddOrleansWorkerDashboard(...) before Build().");
        }

        // The registered options (validated at start, ValidateOnStart), or these with configure applied: checked here either way, every problem listed.
        var options = configure is null
            ? OrleansWorkerDashboardOptions.Check(app.ServiceProvider.GetRequiredService<IOptions<OrleansWorkerDashboardOptions>>().Value)
            : OrleansWorkerDashboardOptions.Create(configure);

        var site = new DashboardSite(path, options, app.ServiceProvider);
        var settings = new DashboardSettings("jobs dashboard", site);
        var group = app.MapGroup(path).ExcludeFromDescription().WithMetadata(settings);

        // Files and the sign-in page are open: they show nothing of the jobs.
        group.MapGet("/app.js", (HttpContext http) => DashboardAssets.Serve(http, "app.js"));
        group.MapGet("/app.css", (HttpContext http) => DashboardAssets.Serve(http, "app.css"));
        group.MapGet("/signin.js", (HttpContext http) => DashboardAssets.Serve(http, "signin.js"));
        group.MapGet("/signin", (HttpContext http, IAntiforgery antiforgery, string? returnUrl) => SignInPage(http, antiforgery, returnUrl, error: null, StatusCodes.Status200OK));
        group.MapPost("/signin", (HttpContext http, IAntiforgery antiforgery) => SignInAsync(http, antiforgery, site));
        group.MapPost("/signout", SignOutAsync);

        var guarded = group.MapGroup("").AddEndpointFilter(new DashboardAccessFilter(settings));
        guarded.MapGet("", (HttpContext http) => Index(http)).WithMetadata(new DashboardIndex(site));
        guarded.MapGet("/session", (HttpContext http, IAntiforgery antiforgery, IOptions<AntiforgeryOptions> antiforgeryOptions) => Session(http, antiforgery, antiforgeryOptions.Value, options));

        Sites.AddOrUpdate(group, site);
        LogAccessAtStart(app.ServiceProvider, settings);
        return group;
    }

    /// <summary>
    /// Guards other endpoints like the jobs dashboard <paramref name="dashboard"/> (the group
    /// <see cref="MapOrleansWorkerDashboard"/> returned): its sign-in cookie or the API key header, anti-forgery on changes
    /// by cookie, and local requests only when neither a key nor a policy protects them. For the Orleans dashboard:
    /// <c>app.MapOrleansDashboard(routePrefix: "/dashboard").RequireDashboardAccess(ui, "Orleans dashboard")</c>.
    /// </summary>
    public static TBuilder RequireDashboardAccess<TBuilder>(this TBuilder builder, RouteGroupBuilder dashboard, string name)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dashboard);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!Sites.TryGetValue(dashboard, out var site))
        {
            throw new ArgumentException("Pass the route group that MapOrleansWorkerDashboard returned.", nameof(dashboard));
        }

        var settings = new DashboardSettings(name, site);
        builder.WithMetadata(settings).AddEndpointFilter(new DashboardAccessFilter(settings));
        LogAccessAtStart(site.Services, settings);
        return builder;
    }

    private static IResult Index(HttpContext http)
    {
        var path = http.Request.Path.Value ?? "";
        if (!path.EndsWith('/'))
        {
            // Relative URLs in the page resolve against its directory: /ui must become /ui/ (relative, so a stripped prefix survives).
            return Results.Redirect(path[(path.LastIndexOf('/') + 1)..] + "/" + http.Request.QueryString.Value);
        }

        return DashboardAssets.Serve(http, "index.html");
    }

    /// <summary>What the page needs: where the API is, whether it may change jobs, the trace link and the anti-forgery token.</summary>
    private static IResult Session(HttpContext http, IAntiforgery antiforgery, AntiforgeryOptions antiforgeryOptions, OrleansWorkerDashboardOptions options)
    {
        var caller = OperatorAccess.Identify(http);
        var tokens = antiforgery.GetAndStoreTokens(http);
        DashboardHeaders.Apply(http.Response, page: false);
        http.Response.Headers.CacheControl = "no-store";
        return JobEndpoints.Json(new SessionBody(
            OperatorAccess.Relative(http.Request.Path.Value ?? "/", options.ApiPath + "/"),
            options.ReadOnly || caller.ReadOnlySession,
            string.IsNullOrEmpty(options.TraceUrlTemplate) ? null : options.TraceUrlTemplate,
            caller.Credential == Credential.Cookie,
            antiforgeryOptions.HeaderName ?? "RequestVerificationToken",
            tokens.RequestToken ?? ""));
    }

    private static IResult SignInPage(HttpContext http, IAntiforgery antiforgery, string? returnUrl, string? error, int status)
    {
        if (OperatorAccess.ApiKey(http) is null)
        {
            return Results.Redirect("./");
        }

        var tokens = antiforgery.GetAndStoreTokens(http);
        var encode = HtmlEncoder.Default;
        var html = DashboardAssets.Text("signin.html")
            .Replace("{{tokenField}}", encode.Encode(tokens.FormFieldName), StringComparison.Ordinal)
            .Replace("{{token}}", encode.Encode(tokens.RequestToken ?? ""), StringComparison.Ordinal)
            .Replace("{{returnUrl}}", encode.Encode(OperatorAccess.SafeReturnUrl(returnUrl) ?? "./"), StringComparison.Ordinal)
            .Replace("{{errorClass}}", error is null ? "error hidden" : "error", StringComparison.Ordinal)
            .Replace("{{error}}", encode.Encode(error ?? ""), StringComparison.Ordinal);
        DashboardHeaders.Apply(http.Response, page: true);
        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }

    private static async Task<IResult> SignInAsync(HttpContext http, IAntiforgery antiforgery, DashboardSite site)
    {
        var time = http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System;
        var key = OperatorAccess.ApiKey(http);
        if (key is null)
        {
            return Results.Redirect("./");
        }

        if (!http.Request.HasFormContentType || !await OperatorAccess.IsAntiforgeryValidAsync(antiforgery, http))
        {
            return SignInPage(http, antiforgery, null, "The form expired or did not come from this page. Try again.", StatusCodes.Status400BadRequest);
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var returnUrl = OperatorAccess.SafeReturnUrl(form["returnUrl"].ToString());
        var logger = Logger(http.RequestServices);
        if (!OperatorAccess.KeyEquals(form["key"].ToString(), key))
        {
            DashboardLog.SignInRefused(logger, http.Connection.RemoteIpAddress?.ToString());
            return SignInPage(http, antiforgery, returnUrl, "That is not the API key.", StatusCodes.Status401Unauthorized);
        }

        var expires = time.GetUtcNow() + site.Options.SignInLifetime;
        DashboardSession.SignIn(http, key, site.Options.ReadOnly, expires);
        DashboardLog.SignedIn(logger, http.Connection.RemoteIpAddress?.ToString(), expires);
        return Results.Redirect(returnUrl ?? "./");
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (!await OperatorAccess.IsAntiforgeryValidAsync(antiforgery, http))
        {
            return Problems.Create(StatusCodes.Status400BadRequest, "Anti-forgery token missing or invalid", "Sign out from the dashboard's own page.");
        }

        DashboardSession.SignOut(http);
        return Results.Redirect("signin");
    }

    private static ILogger Logger(IServiceProvider services) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansWorker.AspNetCore.Dashboard");

    /// <summary>Once the app has started (and so every convention is applied), says who may open the dashboard and how to change that.</summary>
    private static void LogAccessAtStart(IServiceProvider services, DashboardSettings settings) =>
        services.GetService<IHostApplicationLifetime>()?.ApplicationStarted.Register(() =>
        {
            var endpoints = services.GetService<EndpointDataSource>()?.Endpoints.OfType<RouteEndpoint>()
                .Where(e => ReferenceEquals(e.Metadata.GetMetadata<DashboardSettings>(), settings)).ToList() ?? [];
            var path = endpoints.Select(e => "/" + (e.RoutePattern.RawText ?? "").Trim('/')).OrderBy(p => p.Length).FirstOrDefault() ?? settings.Site.Path;
            var policy = services.GetService<IOptions<AuthorizationOptions>>()?.Value.FallbackPolicy is not null
                || endpoints.Any(e => e.Metadata.GetMetadata<IAllowAnonymous>() is null
                    && (e.Metadata.GetMetadata<IAuthorizeData>() is not null || e.Metadata.GetMetadata<AuthorizationPolicy>() is not null));
            var logger = Logger(services);
            if (!string.IsNullOrEmpty(services.GetService<IOptionsMonitor<OrleansWorkerApiOptions>>()?.CurrentValue.ApiKey))
            {
                DashboardLog.GuardedByApiKey(logger, settings.Name, path);
            }
            else if (policy)
            {
                DashboardLog.GuardedByPolicy(logger, settings.Name, path);
            }
            else if (settings.Site.Options.AllowRemoteWithoutAuthentication)
            {
                DashboardLog.OpenToAll(logger, settings.Name, path);
            }
            else
            {
                DashboardLog.LocalOnly(logger, settings.Name, path);
            }
        });

    private sealed record SessionBody(string ApiBase, bool ReadOnly, string? TraceUrlTemplate, bool SignedIn, string AntiforgeryHeader, string AntiforgeryToken);
}
