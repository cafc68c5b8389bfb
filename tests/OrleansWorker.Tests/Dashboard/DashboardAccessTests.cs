using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Dashboard;

/// <summary>The default worker: no API key, no policy. The dashboards answer only the local machine, and say so at start.</summary>
public sealed class LocalOnlyDashboardFactory() : DashboardHostFactory();

/// <summary>No API key, remote access opened explicitly.</summary>
public sealed class RemoteDashboardFactory() : DashboardHostFactory(new() { ["Worker:Dashboard:AllowRemoteWithoutAuthentication"] = "true" });

/// <summary>
/// Who may open the dashboards when neither an API key nor a policy protects them, tested through the host's real
/// pipeline with the connection's remote address set as a proxy-less network would set it.
/// </summary>
public sealed class DashboardLocalOnlyTests(LocalOnlyDashboardFactory factory) : IClassFixture<LocalOnlyDashboardFactory>
{
    private static readonly IPAddress Remote = IPAddress.Parse("203.0.113.7");

    [Theory]
    [InlineData("/ui/")]
    [InlineData("/ui/session")]
    [InlineData("/dashboard/")]
    public async Task NoKeyNoPolicy_RemoteRequest_IsRefused_LoopbackIsServed(string path)
    {
        var local = await SendAsync(factory.Server, path, IPAddress.Loopback);
        Assert.Equal(StatusCodes.Status200OK, local.Response.StatusCode);

        var remote = await SendAsync(factory.Server, path, Remote);
        Assert.Equal(StatusCodes.Status403Forbidden, remote.Response.StatusCode);
        var problem = await ReadJsonAsync(remote);
        Assert.Equal("Open to local requests only", problem.GetProperty("title").GetString());
        Assert.Contains("AllowRemoteWithoutAuthentication", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        var mapped = await SendAsync(factory.Server, path, IPAddress.Parse("::ffff:203.0.113.7"));
        Assert.Equal(StatusCodes.Status403Forbidden, mapped.Response.StatusCode);
    }

    [Fact]
    public async Task NoKeyNoPolicy_LoopbackThroughAnUnprocessedProxy_IsRefused()
    {
        Assert.Equal(StatusCodes.Status200OK, (await SendAsync(factory.Server, "/ui/session", IPAddress.Loopback)).Response.StatusCode);
        var proxied = await SendAsync(factory.Server, "/ui/session", IPAddress.Loopback, c => c.Request.Headers["X-Forwarded-For"] = "203.0.113.7");
        Assert.Equal(StatusCodes.Status403Forbidden, proxied.Response.StatusCode);
    }

    [Fact]
    public async Task NoKeyNoPolicy_StartupLog_SaysHowToOpenIt()
    {
        _ = factory.Server;
        var lines = await Poll.UntilAsync(() => Task.FromResult(factory.Log.Lines), l => l.Count(x => x.Contains("answers only requests from this machine", StringComparison.Ordinal)) >= 2,
            TimeSpan.FromSeconds(20), "the start-up log to name both dashboards as local-only");
        var line = lines.First(l => l.Contains("jobs dashboard at /ui answers only requests from this machine", StringComparison.Ordinal));
        Assert.Contains("Worker:ApiKey", line, StringComparison.Ordinal);
        Assert.Contains("Worker:Dashboard:AllowRemoteWithoutAuthentication=true", line, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("Orleans dashboard at /dashboard answers only requests from this machine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NoKey_JobApiStaysAsItWas_OpenToScripts()
    {
        // The local-only rule is the dashboards'; the job API without a key is open as before (its own policy is the host's choice).
        var remote = await SendAsync(factory.Server, "/jobs?limit=1", Remote);
        Assert.Equal(StatusCodes.Status200OK, remote.Response.StatusCode);
    }

    internal static Task<HttpContext> SendAsync(TestServer server, string path, IPAddress remote, Action<HttpContext>? configure = null) =>
        server.SendAsync(c =>
        {
            var query = path.IndexOf('?', StringComparison.Ordinal);
            c.Request.Method = HttpMethods.Get;
            c.Request.Path = query < 0 ? path : path[..query];
            c.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(path[query..]);
            c.Request.Headers.Accept = "application/json";
            c.Connection.RemoteIpAddress = remote;
            c.Connection.LocalIpAddress = IPAddress.Loopback;
            configure?.Invoke(c);
        });

    internal static async Task<JsonElement> ReadJsonAsync(HttpContext context)
    {
        return await JsonSerializer.DeserializeAsync<JsonElement>(context.Response.Body);
    }
}

/// <summary>With <c>Worker:Dashboard:AllowRemoteWithoutAuthentication</c>, a remote browser gets in, and the log warns.</summary>
public sealed class DashboardRemoteAccessTests(RemoteDashboardFactory factory) : IClassFixture<RemoteDashboardFactory>
{
    [Fact]
    public async Task AllowRemote_RemoteRequest_IsServed_AndTheLogWarns()
    {
        var remote = await DashboardLocalOnlyTests.SendAsync(factory.Server, "/ui/session", IPAddress.Parse("203.0.113.7"));
        Assert.Equal(StatusCodes.Status200OK, remote.Response.StatusCode);
        await Poll.UntilAsync(() => factory.Log.Lines.Any(l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("answers anyone who can reach it", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(20), "a start-up warning that the dashboard is open to anyone");
    }
}

/// <summary>The dashboard's options are checked when the host starts, every problem at once.</summary>
public sealed class DashboardOptionsTests
{
    [Fact]
    public void InvalidOptions_StopTheHostAtStart_NamingEveryProblem()
    {
        using var factory = new DashboardHostFactory(new()
        {
            ["Worker:Dashboard:TraceUrlTemplate"] = "grafana/{trace}",
            ["Worker:Dashboard:SignInLifetime"] = "00:00:05",
        });
        var error = Assert.ThrowsAny<Exception>(() => factory.Server).ToString();
        Assert.Contains("Worker:Dashboard:TraceUrlTemplate must contain {traceId}", error, StringComparison.Ordinal);
        Assert.Contains("Worker:Dashboard:SignInLifetime must be 1 minute to 30 days", error, StringComparison.Ordinal);
    }
}

/// <summary>An API key set: the dashboard signs operators in with it.</summary>
public sealed class KeyedDashboardFactory() : DashboardHostFactory(new() { ["Worker:ApiKey"] = Key });

/// <summary>Forms the dashboard cannot read are the sender's bad request, not the server's error.</summary>
public sealed class DashboardFormTests(KeyedDashboardFactory factory) : IClassFixture<KeyedDashboardFactory>
{
    public static TheoryData<string, string, string> UnreadableForms => new()
    {
        // ASP.NET Core's anti-forgery check reads the form and throws for these (it was a 500).
        { "/ui/signin", "multipart/form-data", "key=x" },
        { "/ui/signout", "multipart/form-data", "x" },
        { "/ui/signin", "application/x-www-form-urlencoded", string.Join('&', Enumerable.Range(0, 1100).Select(i => $"f{i}=1")) },
    };

    [Theory]
    [MemberData(nameof(UnreadableForms))]
    public async Task AFormThatCannotBeRead_Is400(string path, string contentType, string body)
    {
        using var http = factory.CreateClient();
        using var content = new StringContent(body);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        using var response = await http.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
