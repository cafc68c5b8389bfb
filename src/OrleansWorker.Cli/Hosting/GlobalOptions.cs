using System.CommandLine;

namespace OrleansWorker.Cli.Hosting;

/// <summary>The options every command takes (declared once on the root, recursive).</summary>
internal static class GlobalOptions
{
    public const string UrlVariable = "OW_URL";
    public const string ApiKeyVariable = "OW_API_KEY";
    public const string DefaultUrl = "http://localhost:4000";

    // No DefaultValueFactory: help would print the environment's values, and the API key is a secret.
    public static Option<string?> Url { get; } = new("--url", "-u")
    {
        Description = $"The worker or API host to talk to [default: ${UrlVariable}, else {DefaultUrl}]",
        HelpName = "URL",
        Recursive = true,
    };

    public static Option<string?> ApiKey { get; } = new("--api-key", "-k")
    {
        Description = $"The API key, sent as X-Api-Key [default: ${ApiKeyVariable}]",
        HelpName = "KEY",
        Recursive = true,
    };

    public static Option<bool> Json { get; } = new("--json")
    {
        Description = "Write JSON for scripts (the server's own shapes) instead of tables; no live display",
        Recursive = true,
    };

    public static void AddTo(Command root)
    {
        root.Options.Add(Url);
        root.Options.Add(ApiKey);
        root.Options.Add(Json);
    }
}
