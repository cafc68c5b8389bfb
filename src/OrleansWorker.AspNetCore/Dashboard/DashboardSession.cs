using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace OrleansWorker.AspNetCore;

/// <summary>
/// The sign-in cookie of the dashboards: <c>v1.{rw|ro}.{expiry}.{mac}</c>, where the MAC is an HMAC-SHA256 keyed with the
/// API key. It never holds the key; it proves its holder once knew it, until it expires or the key changes (which ends
/// every session). No server state: any process with the same key accepts it, also after a restart.
/// </summary>
internal static class DashboardSession
{
    public const string CookieName = "OrleansWorker.Dashboard";
    private const string Version = "v1";
    private const string Label = "OrleansWorker.Dashboard.Session|";

    /// <summary>Sets the cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, for the whole application (its path base).</summary>
    public static void SignIn(HttpContext http, string apiKey, bool readOnly, DateTimeOffset expires)
    {
        var payload = string.Create(CultureInfo.InvariantCulture, $"{Version}.{(readOnly ? "ro" : "rw")}.{expires.ToUnixTimeSeconds()}");
        http.Response.Cookies.Append(CookieName, payload + "." + Mac(apiKey, payload), Options(http, expires));
    }

    public static void SignOut(HttpContext http) => http.Response.Cookies.Delete(CookieName, Options(http, expires: null));

    /// <summary>Whether the request carries a cookie made with <paramref name="apiKey"/> that has not expired, and its scope.</summary>
    public static bool TryRead(HttpContext http, string apiKey, DateTimeOffset now, out bool readOnly)
    {
        readOnly = true;
        if (!http.Request.Cookies.TryGetValue(CookieName, out var value) || value is null)
        {
            return false;
        }

        var parts = value.Split('.');
        if (parts.Length != 4 || parts[0] != Version || parts[1] is not ("rw" or "ro")
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Mac(apiKey, $"{parts[0]}.{parts[1]}.{parts[2]}"));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(parts[3])) || expiry <= now.ToUnixTimeSeconds())
        {
            return false;
        }

        readOnly = parts[1] == "ro";
        return true;
    }

    private static string Mac(string apiKey, string payload) =>
        Base64Url.EncodeToString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(apiKey), Encoding.UTF8.GetBytes(Label + payload)));

    private static CookieOptions Options(HttpContext http, DateTimeOffset? expires) => new()
    {
        HttpOnly = true,
        Secure = http.Request.IsHttps,
        SameSite = SameSiteMode.Strict,
        Path = http.Request.PathBase.HasValue ? http.Request.PathBase.Value : "/",
        Expires = expires,
        IsEssential = true,
    };
}
