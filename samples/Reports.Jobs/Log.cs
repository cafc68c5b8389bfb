using Microsoft.Extensions.Logging;

namespace Reports.Jobs;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "Report written to {Path} ({Rows} rows)")]
    public static partial void LogReportWritten(this ILogger logger, string path, int rows);
}
