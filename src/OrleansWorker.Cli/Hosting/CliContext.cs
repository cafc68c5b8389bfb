using System.CommandLine;
using OrleansWorker.Cli.Api;
using Spectre.Console;

namespace OrleansWorker.Cli.Hosting;

/// <summary>One invocation: the parsed command line, the resolved global options, the terminal, the clock, the API.</summary>
internal sealed class CliContext : IDisposable
{
    private readonly Lazy<ApiClient> _api;

    private CliContext(ParseResult parse, Uri baseUrl, string? apiKey, bool json, Terminal terminal, TimeProvider time, CancellationToken cancellation)
    {
        Parse = parse;
        BaseUrl = baseUrl;
        Json = json;
        Terminal = terminal;
        Time = time;
        Cancellation = cancellation;
        _api = new Lazy<ApiClient>(() => new ApiClient(baseUrl, apiKey));
    }

    public ParseResult Parse { get; }
    public Uri BaseUrl { get; }

    /// <summary>Whether <c>--json</c> was given: machine output only, no live display, no decoration.</summary>
    public bool Json { get; }
    public Terminal Terminal { get; }
    public TimeProvider Time { get; }

    /// <summary>Signalled by Ctrl+C / SIGTERM.</summary>
    public CancellationToken Cancellation { get; }

    public ApiClient Api => _api.Value;
    public JobsApi Jobs => new(Api);
    public HealthApi Health => new(Api);
    public QueuesApi Queues => new(Api);
    public SchedulesApi Schedules => new(Api);
    public BatchesApi Batches => new(Api);

    /// <summary>A note for people: on stdout normally, on stderr under --json so that stdout stays one JSON document.</summary>
    public void Note(string text)
    {
        if (Json)
        {
            Terminal.Error.WriteLine(text);
        }
        else
        {
            Terminal.Console.WriteLine(text);
        }
    }

    public T? Get<T>(Option<T> option) => Parse.GetValue(option);

    public T? Get<T>(Argument<T> argument) => Parse.GetValue(argument);

    /// <summary>Resolves the global options (option, then environment, then default); a bad URL is a usage error.</summary>
    public static CliContext Create(ParseResult parse, Terminal terminal, TimeProvider time, CancellationToken cancellation)
    {
        var url = NonEmpty(parse.GetValue(GlobalOptions.Url)) ?? NonEmpty(Environment.GetEnvironmentVariable(GlobalOptions.UrlVariable)) ?? GlobalOptions.DefaultUrl;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var baseUrl) || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new UsageException($"--url '{url}' is not an absolute http:// or https:// URL.");
        }

        var apiKey = NonEmpty(parse.GetValue(GlobalOptions.ApiKey)) ?? NonEmpty(Environment.GetEnvironmentVariable(GlobalOptions.ApiKeyVariable));
        if (apiKey is not null && !apiKey.All(c => c is > ' ' and <= '~'))
        {
            // Sent as the X-Api-Key header, which carries visible ASCII only: caught here rather than as a crash in the sending.
            throw new UsageException("--api-key (or $" + GlobalOptions.ApiKeyVariable + ") holds characters an HTTP header cannot carry: only visible ASCII is allowed.");
        }

        return new CliContext(parse, baseUrl, apiKey, parse.GetValue(GlobalOptions.Json), terminal, time, cancellation);
    }

    public void Dispose()
    {
        if (_api.IsValueCreated)
        {
            _api.Value.Dispose();
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
