using Microsoft.Extensions.Options;
using OrleansWorker.Storage.Kv;

namespace OrleansWorker.Hosting;

/// <summary>Options of the embedded job store (SQLite in a local directory), bound from <c>Worker:Embedded</c>.</summary>
public sealed class EmbeddedJobStoreOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Worker:Embedded";

    /// <summary>
    /// The directory holding the database and its lock; created if missing; one worker process at a time.
    /// Relative paths are relative to the current directory. Default: <c>orleansworker-data</c>.
    /// </summary>
    public string DataDirectory { get; set; } = "orleansworker-data";

    /// <summary>
    /// When a commit is acknowledged: after fsync (<see cref="EmbeddedDurability.Commit"/>, survives power loss) or
    /// once the OS has it (<see cref="EmbeddedDurability.Process"/>, survives kill -9 of the worker). Default: Commit.
    /// </summary>
    public EmbeddedDurability Durability { get; set; } = EmbeddedDurability.Commit;

    /// <summary>
    /// Memory for cached pages per connection, in bytes; the data itself is on disk, so a backlog may be any size.
    /// Default: 33,554,432 (32 MiB).
    /// </summary>
    public long PageCacheBytes { get; set; } = 32L * 1024 * 1024;
}

/// <summary>Options of the Redis job store, bound from <c>Worker:Redis</c>.</summary>
public sealed class RedisJobStoreOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Worker:Redis";

    /// <summary>
    /// StackExchange.Redis connection string (one endpoint, or several nodes of a Redis Cluster). Required.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// How many shards the jobs are spread over. Each shard's keys share one Redis Cluster hash slot; with a Redis
    /// Cluster, more shards than nodes spreads the work over the nodes. Changing it strands existing jobs in the
    /// shards they were in: set it once. Default: 1.
    /// </summary>
    public int Shards { get; set; } = 1;
}

internal sealed class EmbeddedJobStoreOptionsValidator : IValidateOptions<EmbeddedJobStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, EmbeddedJobStoreOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            errors.Add("Worker:Embedded:DataDirectory must be a directory path.");
        }

        if (!Enum.IsDefined(options.Durability))
        {
            errors.Add($"Worker:Embedded:Durability must be Commit or Process (was {options.Durability}).");
        }

        if (options.PageCacheBytes is < 256 * 1024 or > 64L * 1024 * 1024 * 1024)
        {
            errors.Add($"Worker:Embedded:PageCacheBytes must be 262144..68719476736 (was {options.PageCacheBytes}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

internal sealed class RedisJobStoreOptionsValidator : IValidateOptions<RedisJobStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisJobStoreOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("Worker:Redis:ConnectionString (or ConnectionStrings:redis in the shipped hosts) is required for the Redis job store.");
        }

        if (options.Shards is < 1 or > 1024)
        {
            errors.Add($"Worker:Redis:Shards must be 1..1024 (was {options.Shards}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
