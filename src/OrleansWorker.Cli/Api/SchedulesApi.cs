namespace OrleansWorker.Cli.Api;

/// <summary>The <c>/schedules</c> endpoints: recurring jobs.</summary>
internal sealed class SchedulesApi(ApiClient api)
{
    public async Task<ApiResult<List<ScheduleView>>> ListAsync(CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, "schedules", null, null, cancellationToken);
        return new ApiResult<List<ScheduleView>>(response.Read(ApiJson.Default.ListScheduleView), response.Body!.Value, response.Status);
    }

    public async Task<ApiResult<ScheduleView>> GetAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Get, Path(id), null, null, cancellationToken));

    /// <summary>PUT: creates or replaces the schedule as a whole.</summary>
    public async Task<ApiResult<ScheduleView>> SetAsync(string id, ScheduleRequest schedule, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Put, Path(id), ApiClient.Serialize(schedule, ApiJson.Default.ScheduleRequest), null, cancellationToken));

    public async Task<ApiResult<ScheduleView>> PauseAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(id) + "/pause", null, null, cancellationToken));

    public async Task<ApiResult<ScheduleView>> ResumeAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(id) + "/resume", null, null, cancellationToken));

    /// <summary>Submits the schedule's job now (202); the answer's <c>lastFire.jobId</c> names it.</summary>
    public async Task<ApiResult<ScheduleView>> TriggerAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(id) + "/trigger", null, null, cancellationToken));

    public Task DeleteAsync(string id, CancellationToken cancellationToken) =>
        api.SendAsync(HttpMethod.Delete, Path(id), null, null, cancellationToken);

    private static string Path(string id) => "schedules/" + Uri.EscapeDataString(id);

    private static ApiResult<ScheduleView> ToResult(ApiResponse response) =>
        new(response.Read(ApiJson.Default.ScheduleView), response.Body!.Value, response.Status);
}
