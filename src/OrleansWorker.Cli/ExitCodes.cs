namespace OrleansWorker.Cli;

/// <summary>
/// The process exit codes, a contract with scripts: "the job failed" (4) is never confused with "the tool or the
/// server failed" (1-3). Documented in <c>ow --help</c>, the package README and docs/cli.md.
/// </summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked (for a wait: the job Succeeded).</summary>
    public const int Success = 0;

    /// <summary>Usage or input error, caught before any request: bad option, missing file, invalid JSON payload.</summary>
    public const int Usage = 1;

    /// <summary>The server refused the request (4xx: validation, unauthorized, not found, conflict).</summary>
    public const int Refused = 2;

    /// <summary>The server or the network failed (5xx, connection refused, no answer in time, unhealthy).</summary>
    public const int Unavailable = 3;

    /// <summary>The job the command waited for ended unsuccessfully (DeadLettered or Cancelled); for a batch, one of its jobs did.</summary>
    public const int JobFailed = 4;

    /// <summary>The wait timed out with the job unfinished.</summary>
    public const int WaitTimedOut = 5;

    /// <summary>Interrupted (Ctrl+C / SIGTERM), as shells report SIGINT.</summary>
    public const int Interrupted = 130;

    /// <summary>Every code with its meaning, in order, for the help text.</summary>
    public static IReadOnlyList<(int Code, string Meaning)> All { get; } =
    [
        (Success, "success (for a wait: the job Succeeded; batches: every job Succeeded)"),
        (Usage, "usage or input error: bad option, missing file, invalid JSON, no confirmation (nothing was sent)"),
        (Refused, "the server refused the request (4xx: validation, API key, not found, conflict)"),
        (Unavailable, "the server or the network failed (5xx, connection refused, timeout, unhealthy)"),
        (JobFailed, "the job ended DeadLettered or Cancelled while the command waited for it (batches: one of its jobs did)"),
        (WaitTimedOut, "the wait timed out with the job (or batch) unfinished"),
        (Interrupted, "interrupted (Ctrl+C)"),
    ];
}
