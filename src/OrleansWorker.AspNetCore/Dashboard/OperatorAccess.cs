using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansWorker.AspNetCore;

/// <summary>How a request proved it may use the job API or a dashboard.</summary>
internal enum Credential
{
    /// <summary>No API key is configured.</summary>
    NoKeyConfigured,

    /// <summary>The key in the <c>X-Api-Key</c> header.</summary>
    Header,

    /// <summary>The dashboard's sign-in cookie.</summary>
    Cookie,

    /// <summary>A key is configured and the request proves nothing.</summary>
    Missing,
}

/// <summary>The caller as far as the API key is concerned.</summary>
internal readonly record struct Caller(Credential Credential, bool ReadOnlySession);

/// <summary>The access rules shared by the job API (<see cref="ApiKeyFilter"/>) and the dashboards (<see cref="DashboardAccessFilter"/>).</summary>
internal static class OperatorAccess
{
    /// <summary>The configured API key, or null.</summary>
    public static string? ApiKey(HttpContext http) =>
        http.RequestServices.GetService<IOptionsMonitor<OrleansWorkerApiOptions>>()?.CurrentValue.ApiKey is { Length: > 0 } key ? key : null;

    public static Caller Identify(HttpContext http)
    {
        var key = ApiKey(http);
        if (key is null)
        {
            return new(Credential.NoKeyConfigured, false);
        }

        if (http.Request.Headers.TryGetValue(ApiKeyFilter.HeaderName, out var given) && KeyEquals(given.ToString(), key))
        {
            return new(Credential.Header, false);
        }

        var now = (http.RequestServices.GetService<TimeProvider>() ?? TimeProvider.System).GetUtcNow();
        return DashboardSession.TryRead(http, key, now, out var readOnly) ? new(Credential.Cookie, readOnly) : new(Credential.Missing, false);
    }

    public static bool KeyEquals(string given, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));

    public static bool IsSafeMethod(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method);

    /// <summary>
    /// A request authenticated by the cookie that changes something: refused for a read-only session (403), and without
    /// the anti-forgery token the dashboard hands out (400). Null when the request may go on. The browser sends the cookie
    /// with any request to this site, so the cookie alone proves nothing about who wrote the request; the token, which
    /// only a page of this origin can read, does.
    /// </summary>
    public static async Task<IResult?> CheckCookieWriteAsync(HttpContext http, Caller caller)
    {
        if (caller.Credential != Credential.Cookie || IsSafeMethod(http.Request.Method))
        {
            return null;
        }

        if (caller.ReadOnlySession)
        {
            return Problems.Create(StatusCodes.Status403Forbidden, "Read-only dashboard session",
                "This browser signed in to a read-only dashboard (Worker:Dashboard:ReadOnly): it can look at jobs but not change them.");
        }

        var antiforgery = http.RequestServices.GetService<IAntiforgery>();
        if (antiforgery is null || !await IsAntiforgeryValidAsync(antiforgery, http))
        {
            var header = http.RequestServices.GetService<IOptions<AntiforgeryOptions>>()?.Value.HeaderName ?? "RequestVerificationToken";
            return Problems.Create(StatusCodes.Status400BadRequest, "Anti-forgery token missing or invalid",
                $"A request signed in by the dashboard's cookie that changes something must carry the dashboard's anti-forgery token in the {header} header. Scripts send the {ApiKeyFilter.HeaderName} header instead.");
        }

        return null;
    }

    /// <summary>
    /// <see cref="IAntiforgery.IsRequestValidAsync"/>, false also when it cannot read the request's form (a multipart
    /// body without a boundary, too many fields, too large): it throws then, and that is the caller's bad request, not a
    /// 500.
    /// </summary>
    public static async Task<bool> IsAntiforgeryValidAsync(IAntiforgery antiforgery, HttpContext http)
    {
        try
        {
            return await antiforgery.IsRequestValidAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return false;
        }
    }

    /// <summary>Whether the endpoint is under an authorization policy of the host's (on the endpoint, its group, or the fallback policy).</summary>
    public static bool HasAuthorizationPolicy(HttpContext http)
    {
        var metadata = http.GetEndpoint()?.Metadata;
        if (metadata?.GetMetadata<IAllowAnonymous>() is not null)
        {
            return false;
        }

        return metadata?.GetMetadata<IAuthorizeData>() is not null || metadata?.GetMetadata<AuthorizationPolicy>() is not null
            || http.RequestServices.GetService<IOptions<AuthorizationOptions>>()?.Value.FallbackPolicy is not null;
    }

    /// <summary>
    /// Whether the request comes from this machine: a loopback address (or this host's own address) with no sign of a
    /// proxy in between. A request that still carries <c>X-Forwarded-For</c>/<c>Forwarded</c> came through a proxy the app
    /// does not process, so the proxy's loopback address says nothing about the browser. An unknown address is not local.
    /// </summary>
    public static bool IsLocal(HttpContext http)
    {
        var remote = http.Connection.RemoteIpAddress;
        if (remote is null)
        {
            return false;
        }

        var headers = http.Request.Headers;
        if (headers.ContainsKey("X-Forwarded-For") || headers.ContainsKey("Forwarded") || headers.ContainsKey("X-Real-IP"))
        {
            return false;
        }

        if (remote.IsIPv4MappedToIPv6)
        {
            remote = remote.MapToIPv4();
        }

        var local = http.Connection.LocalIpAddress;
        if (local is { IsIPv4MappedToIPv6: true })
        {
            local = local.MapToIPv4();
        }

        return IPAddress.IsLoopback(remote) || remote.Equals(local);
    }

    /// <summary>
    /// A URL relative to the directory of <paramref name="fromPath"/> that reaches <paramref name="toPath"/> (both from the
    /// application's root). Relative URLs keep working under a path base and behind a proxy that strips a prefix.
    /// </summary>
    public static string Relative(string fromPath, string toPath)
    {
        var depth = Math.Max(0, (string.IsNullOrEmpty(fromPath) ? "/" : fromPath).Count(c => c == '/') - 1);
        var url = string.Concat(Enumerable.Repeat("../", depth)) + toPath.TrimStart('/');
        return url.Length == 0 ? "./" : url;
    }

    /// <summary>
    /// <paramref name="url"/> if it is a relative-path reference (no scheme, no host, not rooted), else null: a sign-in never
    /// sends the browser to another site.
    /// </summary>
    public static string? SafeReturnUrl(string? url)
    {
        if (string.IsNullOrEmpty(url) || url.Length > 2000 || url[0] is '/' or '\\' || url.Contains('\\', StringComparison.Ordinal) || url.Any(char.IsControl))
        {
            return null;
        }

        var end = url.IndexOfAny(['?', '#']);
        var path = end < 0 ? url : url[..end];
        return path.Contains(':', StringComparison.Ordinal) || path.Contains("//", StringComparison.Ordinal) ? null : url;
    }
}
