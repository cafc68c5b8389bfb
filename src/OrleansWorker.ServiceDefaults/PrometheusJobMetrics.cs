using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Prometheus;

namespace OrleansWorker.ServiceDefaults;

/// <summary>
/// Exposes the engine's meter (<c>OrleansWorker</c>) under its exact Prometheus names, with trace-id exemplars on
/// the histograms (shown when Prometheus asks for OpenMetrics). Other meters go through prometheus-net's adapter.
/// </summary>
internal sealed class PrometheusJobMetrics : IHostedService, IDisposable
{
    public const string MeterName = "OrleansWorker";

    private static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, Action<double, ReadOnlySpan<KeyValuePair<string, object?>>>> _sinks;

    public PrometheusJobMetrics()
    {
        var submitted = Metrics.CreateCounter("worker_jobs_submitted_total", "Jobs accepted (new ids only).");
        var processed = Metrics.CreateCounter("worker_jobs_processed_total", "Attempts that ended, by type, queue and outcome.", ["type", "queue", "outcome"]);
        var retried = Metrics.CreateCounter("worker_jobs_retried_total", "Failed attempts scheduled to run again.", ["type", "queue"]);
        var dead = Metrics.CreateCounter("worker_jobs_dead_lettered_total", "Jobs that used up their attempts.", ["type", "queue"]);
        var duration = Metrics.CreateHistogram("worker_job_duration_seconds", "Duration of attempts.", new HistogramConfiguration { LabelNames = ["type", "queue"], Buckets = DurationBuckets });
        var wait = Metrics.CreateHistogram("worker_job_queue_wait_seconds", "Time from ready to attempt start.", new HistogramConfiguration { LabelNames = ["queue"], Buckets = DurationBuckets });
        var inFlight = Metrics.CreateGauge("worker_jobs_in_flight", "Attempts running on this silo.");
        var queued = Metrics.CreateGauge("worker_jobs_queued", "Jobs in state Queued, cluster-wide, as last counted by this silo.");
        var paused = Metrics.CreateGauge("worker_queue_paused", "1 while a queue is paused, by queue.", ["queue"]);
        var limitHits = Metrics.CreateCounter("worker_queue_limit_hits_total", "Claims that got fewer jobs than they could take because of a queue's concurrency or rate limit.", ["queue", "kind"]);
        var deduplicated = Metrics.CreateCounter("worker_jobs_deduplicated_total", "Submissions answered with an existing job because of their unique key.", ["queue"]);

        var waiting = Metrics.CreateGauge("worker_jobs_waiting", "Jobs in state Waiting (for dependencies), cluster-wide, as last counted by this silo.");
        var schedules = Metrics.CreateGauge("worker_schedules", "Recurring jobs defined, cluster-wide, as last counted by this silo.");
        var leaseLost = Metrics.CreateCounter("worker_lease_lost_total", "Times this silo lost its lease or found itself revoked.", ["kind"]);
        var abandoned = Metrics.CreateCounter("worker_attempts_abandoned_total", "Attempts abandoned because this silo lost its lease.", ["kind"]);
        var refunded = Metrics.CreateCounter("worker_interruptions_refunded_total", "Interruptions given back to jobs after this silo found it had only been cut off.");
        var revoked = Metrics.CreateCounter("worker_owners_revoked_total", "Other silos' owners this silo revoked and recovered jobs from.", ["reason"]);
        var fires = Metrics.CreateCounter("worker_schedule_fires_total", "Jobs submitted by recurring jobs' ticks.", ["schedule"]);
        var misfires = Metrics.CreateCounter("worker_schedule_misfires_total", "Ticks of recurring jobs missed by more than the misfire threshold (not fired).", ["schedule"]);
        var skips = Metrics.CreateCounter("worker_schedule_skips_total", "Ticks skipped because the previous tick's job had not finished.", ["schedule"]);

        _sinks = new(StringComparer.Ordinal)
        {
            ["worker_lease_lost"] = (v, t) => leaseLost.WithLabels(Tag(t, "kind")).Inc(v),
            ["worker_attempts_abandoned"] = (v, t) => abandoned.WithLabels(Tag(t, "kind")).Inc(v),
            ["worker_interruptions_refunded"] = (v, _) => refunded.Inc(v),
            ["worker_owners_revoked"] = (v, t) => revoked.WithLabels(Tag(t, "reason")).Inc(v),
            ["worker_jobs_waiting"] = (v, _) => waiting.Set(v),
            ["worker_schedules"] = (v, _) => schedules.Set(v),
            ["worker_schedule_fires"] = (v, t) => fires.WithLabels(Tag(t, "schedule")).Inc(v),
            ["worker_schedule_misfires"] = (v, t) => misfires.WithLabels(Tag(t, "schedule")).Inc(v),
            ["worker_schedule_skips"] = (v, t) => skips.WithLabels(Tag(t, "schedule")).Inc(v),
            ["worker_jobs_submitted"] = (v, _) => submitted.Inc(v),
            ["worker_jobs_processed"] = (v, t) => processed.WithLabels(Tag(t, "type"), Tag(t, "queue"), Tag(t, "outcome")).Inc(v),
            ["worker_jobs_retried"] = (v, t) => retried.WithLabels(Tag(t, "type"), Tag(t, "queue")).Inc(v),
            ["worker_jobs_dead_lettered"] = (v, t) => dead.WithLabels(Tag(t, "type"), Tag(t, "queue")).Inc(v),
            ["worker_job_duration_seconds"] = (v, t) => duration.WithLabels(Tag(t, "type"), Tag(t, "queue")).Observe(v, Exemplar.FromTraceContext()),
            ["worker_job_queue_wait_seconds"] = (v, t) => wait.WithLabels(Tag(t, "queue")).Observe(v),
            ["worker_jobs_in_flight"] = (v, _) => inFlight.Set(v),
            ["worker_jobs_queued"] = (v, _) => queued.Set(v),
            ["worker_queue_paused"] = (v, t) => paused.WithLabels(Tag(t, "queue")).Set(v),
            ["worker_queue_limit_hits"] = (v, t) => limitHits.WithLabels(Tag(t, "queue"), Tag(t, "kind")).Inc(v),
            ["worker_jobs_deduplicated"] = (v, t) => deduplicated.WithLabels(Tag(t, "queue")).Inc(v),
        };

        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && _sinks.ContainsKey(instrument.Name))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => _sinks[i.Name](v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => _sinks[i.Name](v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => _sinks[i.Name](v, t));
        Metrics.DefaultRegistry.AddBeforeCollectCallback(_listener.RecordObservableInstruments);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _listener.Dispose();

    private static string Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value?.ToString() ?? "";
            }
        }

        return "";
    }
}
