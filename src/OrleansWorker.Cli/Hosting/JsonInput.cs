using System.Text.Json;

namespace OrleansWorker.Cli.Hosting;

/// <summary>JSON the user hands in (inline, from a file, or from standard input), checked before anything is sent.</summary>
internal static class JsonInput
{
    /// <summary>
    /// The JSON from <paramref name="inline"/>, else from <paramref name="file"/> ('-' reads <paramref name="stdin"/>),
    /// else <see langword="null"/>. <paramref name="what"/> names it in errors ("payload", "jobs").
    /// </summary>
    public static JsonElement? Read(string? inline, string? file, TextReader stdin, string what, string inlineOption = "--payload")
    {
        string text;
        string source;
        if (inline is not null)
        {
            (text, source) = (inline, inlineOption);
        }
        else if (file == "-")
        {
            (text, source) = (stdin.ReadToEnd(), "standard input");
        }
        else if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new UsageException($"the {what} file '{file}' does not exist.");
            }

            try
            {
                (text, source) = (File.ReadAllText(file), $"'{file}'");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot read the {what} file '{file}': {ex.Message}");
            }
        }
        else
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new UsageException($"the {what} from {source} is not valid JSON: {ex.Message}");
        }
    }
}
