using System.Globalization;

namespace OrleansWorker.Storage;

/// <summary>
/// The part of a job that never changes after its insert: type, queue, priority, sequence, limits and creation time.
/// Stored in one hash field (<see cref="JobFields.Definition"/>) in the compact layout, or as eight fields of their own
/// by earlier versions (<see cref="JobFields.Legacy"/>); both read the same.
/// </summary>
/// <remarks>
/// One field instead of eight because Redis' cost per job is mostly per argument: each becomes a Lua string and a Redis
/// object again on its way into the hash, and the claim reads it back the same way. Layout:
/// <c>{priority}|{seq}|{maxAttempts}|{maxInterruptions}|{timeout ms}|{created ms − seq's ms}|{queue length}|{queue}{type}</c>.
/// The creation time is stored as its distance from the millisecond in the sequence (usually 0 or a few ms), and the queue
/// by its length, so that any queue or type reads back as written and a no-op job's field stays under Redis' 64-byte
/// compact-hash limit.
/// </remarks>
internal readonly record struct JobDefinition(string Type, string Queue, int Priority, long Seq, int MaxAttempts, int MaxInterruptions, long TimeoutMs, long CreatedMs)
{
    public string Format()
    {
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv, $"{Priority}|{Seq}|{MaxAttempts}|{MaxInterruptions}|{TimeoutMs}|{CreatedMs - (Seq >> 12)}|{Queue.Length}|{Queue}{Type}");
    }

    /// <summary>Reads <see cref="Format"/>'s output; false for an empty or absent field (a job stored by an earlier version).</summary>
    public static bool TryParse(string? stored, out JobDefinition definition)
    {
        definition = default;
        if (string.IsNullOrEmpty(stored))
        {
            return false;
        }

        var s = stored.AsSpan();
        Span<long> n = stackalloc long[7];
        var at = 0;
        for (var i = 0; i < 7; i++)
        {
            var bar = s[at..].IndexOf('|');
            if (bar < 0)
            {
                throw new FormatException($"A job definition has {i} of its 7 numbers: '{stored}'.");
            }

            n[i] = long.Parse(s.Slice(at, bar), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            at += bar + 1;
        }

        var queueLength = (int)n[6];
        definition = new JobDefinition(
            Type: stored[(at + queueLength)..],
            Queue: stored.Substring(at, queueLength),
            Priority: (int)n[0],
            Seq: n[1],
            MaxAttempts: (int)n[2],
            MaxInterruptions: (int)n[3],
            TimeoutMs: n[4],
            CreatedMs: n[5] + (n[1] >> 12));
        return true;
    }

    /// <summary>From the fields of an earlier version, in <see cref="JobFields.Legacy"/> order.</summary>
    public static JobDefinition FromLegacy(IReadOnlyList<string?> f) => new(
        Type: f[0] ?? "",
        Queue: f[1] ?? "",
        Priority: (int)Long(f[2]),
        Seq: Long(f[3]),
        MaxAttempts: (int)Long(f[4]),
        MaxInterruptions: (int)Long(f[5]),
        TimeoutMs: Long(f[6]),
        CreatedMs: Long(f[7]));

    /// <summary>The fields an earlier version stores, in <see cref="JobFields.Legacy"/> order, for the same definition.</summary>
    public string[] LegacyFields()
    {
        var inv = CultureInfo.InvariantCulture;
        return
        [
            JobFields.Type, Type, JobFields.Queue, Queue, JobFields.Priority, Priority.ToString(inv), JobFields.Seq, Seq.ToString(inv),
            JobFields.MaxAttempts, MaxAttempts.ToString(inv), JobFields.MaxInterruptions, MaxInterruptions.ToString(inv),
            JobFields.Timeout, TimeoutMs.ToString(inv), JobFields.Created, CreatedMs.ToString(inv),
        ];
    }

    private static long Long(string? value) => string.IsNullOrEmpty(value) ? 0 : long.Parse(value, CultureInfo.InvariantCulture);
}
