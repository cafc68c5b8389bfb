namespace OrleansWorker.Cli.Hosting;

/// <summary>Bad input found before any request was sent: a missing file, invalid JSON, a bad URL (exit code 1).</summary>
internal sealed class UsageException(string message) : Exception(message);
