using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace OrleansWorker.ServiceDefaults;

/// <summary>When <c>Worker:ApiKey</c> is set, requires it in the <c>X-Api-Key</c> header.</summary>
public sealed class ApiKeyFilter(IConfiguration configuration) : IEndpointFilter
{
    /// <summary>The header that carries the key.</summary>
    public const string HeaderName = "X-Api-Key";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        IsAllowed(context.HttpContext, configuration)
            ? next(context)
            : ValueTask.FromResult<object?>(Problems.Create(StatusCodes.Status401Unauthorized, "API key required", $"Send the key configured in Worker:ApiKey in the {HeaderName} header."));

    /// <summary>Whether the request carries the configured key (always true when none is configured).</summary>
    public static bool IsAllowed(HttpContext http, IConfiguration configuration)
    {
        var expected = configuration["Worker:ApiKey"];
        if (string.IsNullOrEmpty(expected))
        {
            return true;
        }

        var given = http.Request.Headers[HeaderName].ToString();
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));
    }
}
