using System.Globalization;
using System.Text.RegularExpressions;
using OrleansWorker.Cli.Api;

namespace OrleansWorker.Cli.Commands.Queues;

/// <summary>
/// A rate limit written as <c>LIMIT/PERIOD</c>: <c>50/1s</c>, <c>50/s</c>, <c>600/1m</c>, <c>10/500ms</c>, <c>5000/1h</c>;
/// a period without a unit is in seconds (<c>20/60</c>). <see cref="Format"/> writes the same syntax back.
/// </summary>
internal static partial class RateSyntax
{
    public const string Example = "50/1s";

    public static bool TryParse(string text, out RateLimitView rate, out string error)
    {
        rate = new RateLimitView(0, 0);
        var match = Pattern().Match(text.Trim());
        if (!match.Success || (!match.Groups["amount"].Success && !match.Groups["unit"].Success))
        {
            error = $"--rate '{text}' is not LIMIT/PERIOD, e.g. 50/1s, 600/1m, 10/500ms.";
            return false;
        }

        if (!int.TryParse(match.Groups["limit"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) || limit < 1)
        {
            error = $"--rate '{text}': the limit must be a whole number ≥ 1.";
            return false;
        }

        var amount = match.Groups["amount"].Success ? double.Parse(match.Groups["amount"].Value, CultureInfo.InvariantCulture) : 1;
        var seconds = match.Groups["unit"].Value.ToLowerInvariant() switch
        {
            "ms" => amount / 1000,
            "m" or "min" => amount * 60,
            "h" => amount * 3600,
            _ => amount,
        };
        if (!(seconds > 0) || double.IsInfinity(seconds))
        {
            error = $"--rate '{text}': the period must be more than 0.";
            return false;
        }

        rate = new RateLimitView(limit, seconds);
        error = "";
        return true;
    }

    /// <summary><c>50/1s</c>, <c>600/1m</c>, <c>10/500ms</c>: the period in the largest unit that divides it.</summary>
    public static string Format(RateLimitView rate)
    {
        var seconds = rate.PeriodSeconds;
        string period = seconds switch
        {
            >= 3600 when seconds % 3600 == 0 => Invariant($"{seconds / 3600:0}h"),
            >= 60 when seconds % 60 == 0 => Invariant($"{seconds / 60:0}m"),
            < 1 => Invariant($"{seconds * 1000:0.###}ms"),
            _ => Invariant($"{seconds:0.###}s"),
        };
        return Invariant($"{rate.Limit}/{period}");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^(?<limit>\d+)\s*/\s*(?<amount>\d+(\.\d+)?)?\s*(?<unit>ms|s|sec|m|min|h)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
