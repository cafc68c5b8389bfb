using System.Globalization;
using System.Text;

namespace OrleansWorker.Cli.Api;

/// <summary>The <c>/jobs</c> endpoints (src/OrleansWorker.ServiceDefaults/JobEndpoints.cs).</summary>
internal sealed class JobsApi(ApiClient api)
{
    /// <summary>The longest wait the server grants one <c>GET /jobs/{id}/wait</c>.</summary>
    public static readonly TimeSpan MaxServerWait = TimeSpan.FromSeconds(60);

    public async Task<ApiResult<JobView>> SubmitAsync(SubmitJobRequest request, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, "jobs", ApiClient.Serialize(request, ApiJson.Default.SubmitJobRequest), null, cancellationToken));

    public async Task<ApiResult<JobView>> GetAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Get, Path(id), null, null, cancellationToken));

    public async Task<ApiResult<JobPage>> ListAsync(JobListQuery query, CancellationToken cancellationToken)
    {
        var path = new StringBuilder("jobs");
        var separator = '?';
        void Add(string name, string? value)
        {
            if (!string.IsNullOrEmpty(value))
            {
                path.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
                separator = '&';
            }
        }

        Add("state", query.State);
        Add("queue", query.Queue);
        Add("type", query.Type);
        Add("limit", query.Limit?.ToString(CultureInfo.InvariantCulture));
        Add("cursor", query.Cursor);
        var response = await api.SendAsync(HttpMethod.Get, path.ToString(), null, null, cancellationToken);
        return new ApiResult<JobPage>(response.Read(ApiJson.Default.JobPage), response.Body!.Value, response.Status);
    }

    public async Task<ApiResult<JobView>> CancelAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(id) + "/cancel", null, null, cancellationToken));

    public async Task<ApiResult<JobView>> RetryAsync(string id, CancellationToken cancellationToken) =>
        ToResult(await api.SendAsync(HttpMethod.Post, Path(id) + "/retry", null, null, cancellationToken));

    public Task DeleteAsync(string id, CancellationToken cancellationToken) =>
        api.SendAsync(HttpMethod.Delete, Path(id), null, null, cancellationToken);

    /// <summary>One long poll: the view once the job finished, or when <paramref name="wait"/> (≤ 60 s) is up.</summary>
    public async Task<ApiResult<JobView>> WaitAsync(string id, TimeSpan wait, CancellationToken cancellationToken)
    {
        wait = wait < TimeSpan.Zero ? TimeSpan.Zero : wait > MaxServerWait ? MaxServerWait : wait;
        var seconds = wait.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        return ToResult(await api.SendAsync(HttpMethod.Get, $"{Path(id)}/wait?timeoutSeconds={seconds}", null, wait + ApiClient.RequestTimeout, cancellationToken));
    }

    private static string Path(string id) => "jobs/" + Uri.EscapeDataString(id);

    private static ApiResult<JobView> ToResult(ApiResponse response) =>
        new(response.Read(ApiJson.Default.JobView), response.Body!.Value, response.Status);
}
