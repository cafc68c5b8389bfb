using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Http;

public sealed class ApiKeyWorkerFactory : WebApplicationFactory<Program>
{
    public const string Key = "s3cret-key";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Orleans:Endpoints:SiloPort", RedisServer.FreePort().ToString());
        builder.UseSetting("Orleans:Endpoints:GatewayPort", RedisServer.FreePort().ToString());
        builder.UseSetting("Worker:Embedded:DataDirectory", Path.Combine(Path.GetTempPath(), "ow-data-" + Guid.NewGuid().ToString("N")));
        builder.UseSetting("Worker:ApiKey", Key);
    }
}

public sealed class ApiKeyTests(ApiKeyWorkerFactory factory) : IClassFixture<ApiKeyWorkerFactory>
{
    [Fact]
    public async Task ApiKey_GuardsJobsAndDashboard_NotHealthOrMetrics()
    {
        using var anonymous = factory.CreateClient();
        using var keyed = factory.CreateClient();
        keyed.DefaultRequestHeaders.Add("X-Api-Key", ApiKeyWorkerFactory.Key);
        using var wrong = factory.CreateClient();
        wrong.DefaultRequestHeaders.Add("X-Api-Key", "nope");

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/jobs", new { type = "noop" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await keyed.PostAsJsonAsync("/jobs", new { type = "noop" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await keyed.GetAsync("/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await keyed.GetAsync("/dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
    }
}
