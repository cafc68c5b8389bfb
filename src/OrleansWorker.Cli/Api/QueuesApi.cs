namespace OrleansWorker.Cli.Api;

/// <summary>The <c>/queues</c> endpoints: settings (pause, concurrency and rate limits) and jobs by state.</summary>
internal sealed class QueuesApi(ApiClient api)
{
    public async Task<ApiResult<List<QueueView>>> ListAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, "queues", null, null, cancellationToken);
        return new ApiResult<List<QueueView>>(response.Read(ApiJson.Default.ListQueueView), response.Body!.Value, response.Status);
    }

    public async Task<ApiResult<QueueView>> GetAsync(string name, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Get, Path(name), null, null, cancellationToken));

    /// <summary>PUT: the settings as a whole; what <paramref name="settings"/> leaves out is cleared.</summary>
    public async Task<ApiResult<QueueView>> SetAsync(string name, QueueSettingsRequest settings, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Put, Path(name), ApiClient.Serialize(settings, ApiJson.Default.QueueSettingsRequest), null, cancellationToken));

    public async Task<ApiResult<QueueView>> PauseAsync(string name, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(name) + "/pause", null, null, cancellationToken));

    public async Task<ApiResult<QueueView>> ResumeAsync(string name, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(name) + "/resume", null, null, cancellationToken));

    private static string Path(string name) => "queues/" + Uri.EscapeDataString(name);

    private static ApiResult<QueueView> ToResult(ApiResponse response) =>
        new(response.Read(ApiJson.Default.QueueView), response.Body!.Value, response.Status);
}
