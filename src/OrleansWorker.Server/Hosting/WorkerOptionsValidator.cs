using Microsoft.Extensions.Options;
using OrleansWorker.Execution;

namespace OrleansWorker.Hosting;

/// <summary>Checks <see cref="WorkerOptions"/> at start and reports every problem at once.</summary>
internal sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var errors = new List<string>();
        void Require(bool ok, string message)
        {
            if (!ok)
            {
                errors.Add(message);
            }
        }

        Require(options.MaxConcurrentJobs is >= 1 and <= 100_000, $"Worker:MaxConcurrentJobs must be 1..100000 (was {options.MaxConcurrentJobs}).");
        Require(options.DefaultMaxAttempts is >= 1 and <= 100, $"Worker:DefaultMaxAttempts must be 1..100 (was {options.DefaultMaxAttempts}).");
        Require(options.DefaultTimeout > TimeSpan.Zero, $"Worker:DefaultTimeout must be positive (was {options.DefaultTimeout}).");
        Require(options.MaxPayloadBytes is >= 16 and <= 64 * 1024 * 1024, $"Worker:MaxPayloadBytes must be 16..67108864 (was {options.MaxPayloadBytes}).");
        Require(options.MaxResultBytes is >= 16 and <= 64 * 1024 * 1024, $"Worker:MaxResultBytes must be 16..67108864 (was {options.MaxResultBytes}).");
        Require(options.RetryBaseDelay > TimeSpan.Zero, $"Worker:RetryBaseDelay must be positive (was {options.RetryBaseDelay}).");
        Require(options.RetryMaxDelay >= options.RetryBaseDelay, $"Worker:RetryMaxDelay ({options.RetryMaxDelay}) must be at least Worker:RetryBaseDelay ({options.RetryBaseDelay}).");
        Require(options.DrainTimeout >= TimeSpan.Zero, $"Worker:DrainTimeout must not be negative (was {options.DrainTimeout}).");
        Require(options.LeaseDuration >= TimeSpan.FromSeconds(3), $"Worker:LeaseDuration must be at least 3 seconds (was {options.LeaseDuration}).");
        Require(options.MaxInterruptions is >= 1 and <= 100, $"Worker:MaxInterruptions must be 1..100 (was {options.MaxInterruptions}).");
        Require(options.PollInterval > TimeSpan.Zero && options.PollInterval <= TimeSpan.FromMinutes(1), $"Worker:PollInterval must be in (0, 1 min] (was {options.PollInterval}).");
        Require(options.SucceededRetention > TimeSpan.Zero, $"Worker:SucceededRetention must be positive (was {options.SucceededRetention}).");
        Require(options.CancelledRetention > TimeSpan.Zero, $"Worker:CancelledRetention must be positive (was {options.CancelledRetention}).");
        Require(options.DeadLetteredRetention > TimeSpan.Zero, $"Worker:DeadLetteredRetention must be positive (was {options.DeadLetteredRetention}).");
        Require(!string.IsNullOrWhiteSpace(options.KeyPrefix) && !options.KeyPrefix.Contains(' ', StringComparison.Ordinal), $"Worker:KeyPrefix must be a non-empty word (was '{options.KeyPrefix}').");
        Require(options.ScheduleMisfireThreshold >= TimeSpan.FromSeconds(1), $"Worker:ScheduleMisfireThreshold must be at least 1 second (was {options.ScheduleMisfireThreshold}).");
        Require(options.IdleTrimDelay >= TimeSpan.Zero, $"Worker:IdleTrimDelay must not be negative (was {options.IdleTrimDelay}); 00:00:00 turns the idle trim off.");
        Require(options.WriteBatchSize is >= 1 and <= 10_000, $"Worker:WriteBatchSize must be 1..10000 (was {options.WriteBatchSize}).");
        foreach (var entry in options.Queues)
        {
            Require(WeightedQueue.TryParse(entry, out var queue) && JobValidator.IsValidName(queue.Queue),
                $"Worker:Queues entry '{entry}' must be a queue name (1–200 characters of [A-Za-z0-9._:-]) optionally followed by =weight (1–1000).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
