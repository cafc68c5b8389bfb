using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace OrleansWorker.AspNetCore;

/// <summary>Options of the job HTTP API (bound by the shipped hosts from the <c>Worker</c> section).</summary>
public sealed class OrleansWorkerApiOptions
{
    /// <summary>
    /// When set, every request to the job API (and whatever else the host guards with <see cref="ApiKeyFilter"/>) must
    /// carry it in the <c>X-Api-Key</c> header. Default: unset (no key; use the host's own authorization instead or too).
    /// </summary>
    public string? ApiKey { get; set; }
}

/// <summary>When <see cref="OrleansWorkerApiOptions.ApiKey"/> is set, requires it in the <c>X-Api-Key</c> header (compared in constant time).</summary>
public sealed class ApiKeyFilter : IEndpointFilter
{
    /// <summary>The header that carries the key.</summary>
    public const string HeaderName = "X-Api-Key";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        return IsAllowed(context.HttpContext)
            ? next(context)
            : ValueTask.FromResult<object?>(Problems.Create(StatusCodes.Status401Unauthorized, "API key required", $"Send the configured API key (Worker:ApiKey) in the {HeaderName} header."));
    }

    /// <summary>Whether the request carries the configured key (always true when none is configured).</summary>
    public static bool IsAllowed(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var expected = http.RequestServices.GetService<IOptionsMonitor<OrleansWorkerApiOptions>>()?.CurrentValue.ApiKey;
        if (string.IsNullOrEmpty(expected))
        {
            return true;
        }

        var given = http.Request.Headers[HeaderName].ToString();
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));
    }
}
