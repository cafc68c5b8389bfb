using System.Globalization;

namespace OrleansWorker.Benchmarks;

/// <summary>Command line of the harness. Default: a quick run (minutes); <c>--full</c>: the sizes of issue 7.</summary>
internal sealed class BenchOptions
{
    public static readonly string[] AllPhases = ["client", "latency", "hangfire", "bullmq", "http", "memory", "backlog", "recovery", "embedded", "startup", "cluster", "log"];

    public IReadOnlyList<int> Ns { get; private set; } = [5_000];

    public int Rate { get; private set; } = 2_000;

    public int Seconds { get; private set; } = 5;

    public int MemoryJobs { get; private set; } = 20_000;

    public int BacklogJobs { get; private set; } = 20_000;

    public int Concurrency { get; private set; } = 64;

    /// <summary>
    /// Jobs each system runs before it is measured (ours: this many in batches and this many one by one; BullMQ: this many
    /// bulk). .NET's tiered JIT with dynamic PGO needs on the order of 100,000 jobs here to reach its steady code; the first
    /// jobs after a start are measured on their own (the host's "cold" row).
    /// </summary>
    public int Warmup { get; private set; } = 2_000;

    public ISet<string> Phases { get; private set; } = new HashSet<string>(AllPhases);

    /// <summary>
    /// Rounds of the phases that share a redis-server (<c>client</c>, <c>bullmq</c>): each round on a fresh server,
    /// ours and BullMQ in alternating order (odd rounds ours first), so that a slow or fast stretch of the machine falls
    /// on both; the ratios are taken of the medians. <c>latency</c> and <c>hangfire</c> run in the first round only.
    /// Default: 1.
    /// </summary>
    public int Rounds { get; private set; } = 1;

    public bool Has(string phase) => Phases.Contains(phase);

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        if (args.Contains("--full"))
        {
            o.Ns = [20_000, 100_000];
            o.Seconds = 30;
            o.MemoryJobs = 1_000_000;
            o.BacklogJobs = 1_000_000;
            o.Warmup = 50_000;
        }

        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int(string s) => int.TryParse(s.Replace("_", "", StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw new ArgumentException($"{args[i - 1]} {args[i]}: '{s}' is not a whole number.");
            switch (args[i])
            {
                case "--full":
                    break;
                case "--n":
                    o.Ns = Next().Split(',').Select(Int).ToList();
                    if (o.Ns.Count != o.Ns.Distinct().Count() || o.Ns.Any(n => n < 1))
                    {
                        // A phase names its jobs by N (e.g. a20000-17): a second round of the same N would submit ids that
                        // exist, which are answered, not run again, and its wait for N more successes would never end.
                        throw new ArgumentException($"--n {string.Join(',', o.Ns)}: each N must be positive and given once (for repeated rounds use close values, e.g. 20000,20001).");
                    }

                    break;
                case "--rate":
                    o.Rate = Int(Next());
                    break;
                case "--seconds":
                    o.Seconds = Int(Next());
                    break;
                case "--memory-jobs":
                    o.MemoryJobs = Int(Next());
                    break;
                case "--backlog-jobs":
                    o.BacklogJobs = Int(Next());
                    break;
                case "--concurrency":
                    o.Concurrency = Int(Next());
                    break;
                case "--warmup":
                    o.Warmup = Int(Next());
                    break;
                case "--rounds":
                    o.Rounds = Int(Next());
                    if (o.Rounds is < 1 or > 20)
                    {
                        throw new ArgumentException($"--rounds {o.Rounds}: must be 1..20.");
                    }

                    break;
                case "--phases":
                    var phases = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
                    var unknown = phases.Except(AllPhases).ToList();
                    if (unknown.Count > 0)
                    {
                        throw new ArgumentException($"Unknown phase(s) {string.Join(", ", unknown)}; known: {string.Join(", ", AllPhases)}.");
                    }

                    o.Phases = phases;
                    break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. Known: --full --n --rate --seconds --memory-jobs --backlog-jobs --concurrency --warmup --rounds --phases.");
            }
        }

        return o;
    }
}
