namespace OrleansWorker.Cli.Api;

/// <summary>The <c>/batches</c> endpoints: jobs submitted as one batch, with an optional completion job.</summary>
internal sealed class BatchesApi(ApiClient api)
{
    public async Task<ApiResult<BatchCreatedView>> SubmitAsync(BatchRequest request, CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Post, "batches", ApiClient.Serialize(request, ApiJson.Default.BatchRequest), null, cancellationToken);
        return new ApiResult<BatchCreatedView>(response.Read(ApiJson.Default.BatchCreatedView), response.Body!.Value, response.Status);
    }

    public async Task<ApiResult<BatchView>> GetAsync(string id, CancellationToken cancellationToken)
    {
        var response = await api.SendAsync(HttpMethod.Get, "batches/" + Uri.EscapeDataString(id), null, null, cancellationToken);
        return new ApiResult<BatchView>(response.Read(ApiJson.Default.BatchView), response.Body!.Value, response.Status);
    }
}
