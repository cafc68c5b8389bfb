using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;

namespace OrleansWorker.AspNetCore;

/// <summary>The dashboard's files, embedded in this assembly (no CDN, no build step): read once, served with an ETag.</summary>
internal static class DashboardAssets
{
    private static readonly ConcurrentDictionary<string, Asset> Cache = new(StringComparer.Ordinal);

    /// <summary>The text of an embedded file (a template).</summary>
    public static string Text(string name) => System.Text.Encoding.UTF8.GetString(Get(name).Content);

    /// <summary>Serves an embedded file; 304 when the browser has it already.</summary>
    public static IResult Serve(HttpContext http, string name)
    {
        var asset = Get(name);
        DashboardHeaders.Apply(http.Response, page: name.EndsWith(".html", StringComparison.Ordinal));
        http.Response.Headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch.ToString() == asset.ETag)
        {
            return Results.StatusCode(StatusCodes.Status304NotModified);
        }

        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static Asset Get(string name) => Cache.GetOrAdd(name, static n =>
    {
        using var stream = typeof(DashboardAssets).Assembly.GetManifestResourceStream("OrleansWorker.Dashboard." + n)
            ?? throw new InvalidOperationException($"The dashboard file {n} is not embedded in {typeof(DashboardAssets).Assembly.GetName().Name}.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var content = buffer.ToArray();
        var type = Path.GetExtension(n) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            _ => "application/octet-stream",
        };
        return new Asset(content, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
    });

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}
