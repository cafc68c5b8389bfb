using Microsoft.Extensions.Logging;

namespace OrleansWorker.AspNetCore;

/// <summary>The dashboards' log lines.</summary>
internal static partial class DashboardLog
{
    [LoggerMessage(3000, LogLevel.Information, "{Dashboard} at {Path}: sign in with the API key (Worker:ApiKey); scripts send it in the X-Api-Key header")]
    public static partial void GuardedByApiKey(ILogger logger, string dashboard, string path);

    [LoggerMessage(3001, LogLevel.Information, "{Dashboard} at {Path}: guarded by the host's authorization policy")]
    public static partial void GuardedByPolicy(ILogger logger, string dashboard, string path);

    [LoggerMessage(3002, LogLevel.Information,
        "{Dashboard} at {Path} answers only requests from this machine: no API key and no authorization policy protect it. " +
        "To open it to others set Worker:ApiKey (and sign in with it), require an authorization policy on it, " +
        "or, on a trusted network only, set Worker:Dashboard:AllowRemoteWithoutAuthentication=true")]
    public static partial void LocalOnly(ILogger logger, string dashboard, string path);

    [LoggerMessage(3003, LogLevel.Warning,
        "{Dashboard} at {Path} answers anyone who can reach it: Worker:Dashboard:AllowRemoteWithoutAuthentication is set and no API key or authorization policy protects it")]
    public static partial void OpenToAll(ILogger logger, string dashboard, string path);

    [LoggerMessage(3004, LogLevel.Warning, "Dashboard sign-in refused from {RemoteAddress}: wrong API key")]
    public static partial void SignInRefused(ILogger logger, string? remoteAddress);

    [LoggerMessage(3005, LogLevel.Information, "Dashboard sign-in from {RemoteAddress}, valid until {Expires}")]
    public static partial void SignedIn(ILogger logger, string? remoteAddress, DateTimeOffset expires);
}
