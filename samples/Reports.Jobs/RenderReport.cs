using OrleansWorker;

namespace Reports.Jobs;

/// <summary>Render a CSV report of <paramref name="Rows"/> rows.</summary>
[JobName("report.render")]
public sealed record RenderReport(string Title, int Rows);

/// <summary>Where the report was written.</summary>
public sealed record RenderedReport(string Path, int Rows, long Bytes);

/// <summary>Where reports go (the worker decides).</summary>
public sealed class ReportOutput
{
    public string Directory { get; set; } = "reports";
}

/// <summary>Writes the report to a temporary file and moves it into place, so a retried attempt never leaves half a report.</summary>
public sealed class RenderReportHandler(ReportOutput output) : IJobHandler<RenderReport, RenderedReport>
{
    public async Task<RenderedReport> ExecuteAsync(RenderReport payload, JobContext context, CancellationToken cancellationToken)
    {
        if (payload.Rows is < 1 or > 1_000_000)
        {
            // Retrying cannot fix a bad request: dead-letter it at once.
            throw new UnrecoverableJobException($"A report has 1..1000000 rows (asked for {payload.Rows}).");
        }

        Directory.CreateDirectory(output.Directory);
        var path = Path.Combine(output.Directory, $"{context.JobId}.csv");
        var partial = path + ".partial";
        await using (var writer = new StreamWriter(partial))
        {
            await writer.WriteLineAsync("row,title,square");
            var step = Math.Max(1, payload.Rows / 10);
            for (var row = 1; row <= payload.Rows; row++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await writer.WriteLineAsync($"{row},{payload.Title},{(long)row * row}");
                if (row % step == 0)
                {
                    await context.ReportProgressAsync(row * 100 / payload.Rows, $"{row} of {payload.Rows} rows", cancellationToken);
                }
            }
        }

        File.Move(partial, path, overwrite: true);
        context.Logger.LogReportWritten(path, payload.Rows);
        return new RenderedReport(Path.GetFullPath(path), payload.Rows, new FileInfo(path).Length);
    }
}
