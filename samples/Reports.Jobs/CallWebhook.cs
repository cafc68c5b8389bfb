using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker;

namespace Reports.Jobs;

/// <summary>POST <paramref name="Body"/> to <paramref name="Url"/>.</summary>
[JobName("webhook.call")]
public sealed record CallWebhook(Uri Url, JsonElement Body);

/// <summary>The receiver's answer.</summary>
public sealed record WebhookResult(int Status);

/// <summary>
/// Calls a webhook: a 2xx succeeds; a 429 waits for the receiver's Retry-After without using up an attempt; any other
/// 4xx will not get better by retrying (dead-lettered at once); a 5xx or a network error is retried with backoff.
/// </summary>
public sealed class CallWebhookHandler(HttpClient http) : IJobHandler<CallWebhook, WebhookResult>
{
    public async Task<WebhookResult> ExecuteAsync(CallWebhook payload, JobContext context, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, payload.Url) { Content = JsonContent.Create(payload.Body) };
        request.Headers.Add("X-Job-Id", context.JobId);
        request.Headers.Add("X-Attempt", context.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var response = await http.SendAsync(request, cancellationToken);
        var status = (int)response.StatusCode;
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            throw new JobRateLimitedException(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(5), $"{payload.Url} answered 429.");
        }

        if (status is >= 400 and < 500)
        {
            throw new UnrecoverableJobException($"{payload.Url} refused the call with {status}.");
        }

        response.EnsureSuccessStatusCode();
        return new WebhookResult(status);
    }
}
