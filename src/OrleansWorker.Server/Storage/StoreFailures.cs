using StackExchange.Redis;

namespace OrleansWorker.Storage;

/// <summary>Which exceptions mean "the job store cannot be reached right now" (answered 503, retried), as opposed to a bug.</summary>
internal static class StoreFailures
{
    /// <summary>
    /// Redis and SQLite errors, timeouts, a disposed connection, and the <see cref="InvalidOperationException"/> that
    /// StackExchange.Redis' socket pipeline throws for the commands in flight when the connection is torn down under
    /// them (e.g. "Reading is not allowed after reader was completed" during a network cut). Also a command's task
    /// that StackExchange.Redis cancelled itself when it gave the command up during a cut (a cancellation nobody asked
    /// for: no token of ours is behind it; ours come with their token cancelled and stay cancellations).
    /// </summary>
    public static bool IsUnavailable(Exception ex) => ex switch
    {
        RedisException or TimeoutException or ObjectDisposedException or Microsoft.Data.Sqlite.SqliteException => true,
        InvalidOperationException { Source: "System.IO.Pipelines" or "Pipelines.Sockets.Unofficial" or "StackExchange.Redis" } => true,
        OperationCanceledException { CancellationToken.IsCancellationRequested: false } => true,
        _ => false,
    };
}
