using System.Text.Json;

namespace OrleansWorker.Cli.Api;

/// <summary>The server answered 4xx: it understood the request and refused it (exit code 2).</summary>
/// <param name="status">The HTTP status.</param>
/// <param name="message">The problem's detail (or title), ready to print.</param>
/// <param name="problem">The RFC 7807 body, when there was one.</param>
internal sealed class ApiRefusedException(int status, string message, JsonElement? problem) : Exception(message)
{
    public int Status { get; } = status;

    public JsonElement? Problem { get; } = problem;
}

/// <summary>The server failed (5xx), could not be reached, or did not answer in time (exit code 3).</summary>
internal sealed class ApiUnavailableException : Exception
{
    public ApiUnavailableException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }

    public ApiUnavailableException(string message, int status)
        : base(message) => Status = status;

    /// <summary>The HTTP status, when the server answered at all.</summary>
    public int? Status { get; }
}
