using OrleansWorker;

namespace Reports.Jobs;

/// <summary>A long import in <paramref name="Batches"/> batches.</summary>
[JobName("customers.import")]
public sealed record ImportCustomers(int Batches, int BatchMilliseconds = 200);

public sealed record ImportSummary(int Batches, int Customers);

/// <summary>A long job: reports progress after every batch and stops at the next batch when cancelled.</summary>
public sealed class ImportCustomersHandler(TimeProvider time) : IJobHandler<ImportCustomers, ImportSummary>
{
    public async Task<ImportSummary> ExecuteAsync(ImportCustomers payload, JobContext context, CancellationToken cancellationToken)
    {
        var customers = 0;
        for (var batch = 1; batch <= payload.Batches; batch++)
        {
            // Stand-in for real work that honours the token (I/O, a database call, …).
            await Task.Delay(TimeSpan.FromMilliseconds(payload.BatchMilliseconds), time, cancellationToken);
            customers += 100;
            await context.ReportProgressAsync(batch * 100 / payload.Batches, $"batch {batch} of {payload.Batches}", cancellationToken);
        }

        return new ImportSummary(payload.Batches, customers);
    }
}
