namespace OrleansWorker.Cli.Api;

/// <summary><c>GET /health</c>: 200 when healthy, 503 with the same report when not.</summary>
internal sealed class HealthApi(ApiClient api)
{
    public async Task<ApiResult<HealthReport>> GetAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, "health", null, null, cancellationToken, 503);
        return new ApiResult<HealthReport>(response.Read(ApiJson.Default.HealthReport), response.Body!.Value, response.Status);
    }
}
