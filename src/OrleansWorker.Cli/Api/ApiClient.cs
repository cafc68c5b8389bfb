using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansWorker.Cli.Api;

/// <summary>An answer the caller accepted: its status and JSON body (absent for 204).</summary>
internal sealed record ApiResponse(int Status, JsonElement? Body)
{
    public T Read<T>(JsonTypeInfo<T> type) where T : class
    {
        if (Body is not { ValueKind: not JsonValueKind.Null } body)
        {
            throw new ApiUnavailableException($"The server answered {Status} without a body.");
        }

        try
        {
            return body.Deserialize(type) ?? throw new ApiUnavailableException($"The server answered {Status} with an empty body.");
        }
        catch (JsonException ex)
        {
            // Not the API this tool speaks (another service at --url, or a proxy's page): the server side failed, not the input.
            throw new ApiUnavailableException($"The server's answer is not the expected {typeof(T).Name}: {ex.Message}", ex);
        }
    }
}

/// <summary>A typed answer together with the JSON the server sent (printed as is by <c>--json</c>).</summary>
internal sealed record ApiResult<T>(T Value, JsonElement Raw, int Status);

/// <summary>
/// The worker's HTTP API at one base address: JSON in and out, the API key in <c>X-Api-Key</c>, and every failure
/// turned into <see cref="ApiRefusedException"/> (4xx) or <see cref="ApiUnavailableException"/> (5xx, network, timeout).
/// Endpoint groups (<see cref="JobsApi"/>, <see cref="HealthApi"/>; later queues and schedules) are thin typed layers over it.
/// </summary>
internal sealed class ApiClient : IDisposable
{
    /// <summary>The deadline of an ordinary request; a long poll adds its own wait to it.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);
    private readonly HttpClient _http;

    public ApiClient(Uri baseUrl, string? apiKey, HttpMessageHandler? handler = null)
    {
        // A trailing slash makes relative paths resolve under a path base (a worker behind a reverse proxy).
        BaseUrl = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl : new Uri(baseUrl.AbsoluteUri + "/");
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = ConnectTimeout }, disposeHandler: true)
        {
            BaseAddress = BaseUrl,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/problem+json"));
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("ow", Version));
        if (!string.IsNullOrEmpty(apiKey))
        {
            _http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }
    }

    public Uri BaseUrl { get; }

    private static string Version { get; } =
        typeof(ApiClient).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>Sends a request whose body (if any) is <paramref name="json"/>; returns 2xx answers and those in <paramref name="alsoAccept"/>.</summary>
    public async Task<ApiResponse> SendAsync(HttpMethod method, string path, string? json, TimeSpan? timeout, CancellationToken cancellationToken,
        params int[] alsoAccept)
    {
        var deadline = timeout ?? RequestTimeout;
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(deadline);
        using var request = new HttpRequestMessage(method, path.TrimStart('/'));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        try
        {
            using var response = await _http.SendAsync(request, timeoutSource.Token);
            var text = await response.Content.ReadAsStringAsync(timeoutSource.Token);
            var status = (int)response.StatusCode;
            var body = ParseJson(text, response.Content.Headers.ContentType?.MediaType);
            if (response.IsSuccessStatusCode || alsoAccept.Contains(status))
            {
                if (body is null && text.Length > 0)
                {
                    throw new ApiUnavailableException($"{Describe(method, path)} answered {status} with a body that is not JSON.", status);
                }

                return new ApiResponse(status, body);
            }

            var message = ProblemMessage(body) ?? $"{Describe(method, path)} answered {status} {response.ReasonPhrase}.";
            throw status is >= 400 and < 500
                ? new ApiRefusedException(status, message, body)
                : new ApiUnavailableException(message, status);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ApiUnavailableException($"{BaseUrl} did not answer {Describe(method, path)} within {deadline.TotalSeconds:0.#} s.", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ApiUnavailableException($"cannot reach {BaseUrl}: {ex.Message}", ex);
        }
    }

    /// <summary>Serializes <paramref name="value"/> with the source-generated contract.</summary>
    public static string Serialize<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.Serialize(value, type);

    public void Dispose() => _http.Dispose();

    private static JsonElement? ParseJson(string text, string? mediaType)
    {
        if (text.Length == 0 || !(mediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The line to show for an RFC 7807 problem: its detail, else its title.</summary>
    private static string? ProblemMessage(JsonElement? body)
    {
        if (body is not { ValueKind: JsonValueKind.Object } problem)
        {
            return null;
        }

        foreach (var name in (ReadOnlySpan<string>)["detail", "title"])
        {
            if (problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
            {
                return text;
            }
        }

        return null;
    }

    private static string Describe(HttpMethod method, string path) => $"{method} /{path.TrimStart('/')}";
}
