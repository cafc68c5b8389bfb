using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace OrleansWorker.ServiceDefaults;

/// <summary>
/// Console logging of both hosts: one line per entry, a UTC timestamp, the scopes — so every job line carries the
/// job's trace id in the default output, not only with the JSON formatter.
/// </summary>
/// <remarks>
/// <para>A job line's <c>TraceId</c> comes from the attempt's log scope (<c>JobLogScope</c>): the attempt activity's
/// trace id, else the traceparent stored with the job — the same id, the job view's <c>traceId</c>. Without an exporter
/// nothing listens to the engine's activity source, so no attempt activity exists and the scope's fallback is what the
/// line shows (with an empty <c>SpanId</c>: there is no span); with one, the attempt's span is the child of that stored
/// context, and <see cref="ActivityTrackingOptions"/> adds the same trace id and the span id. A listener creating
/// propagation-only activities would add a span id that no backend has, for about 1 µs and 300–600 B per attempt.</para>
/// <para>Each default applies unless <c>Logging:Console:FormatterOptions</c> (or the obsolete key of the same name
/// directly under <c>Logging:Console</c>) sets that option;
/// <c>Logging:Console:FormatterName</c> (<c>simple</c>, <c>json</c>, <c>systemd</c>) still chooses the formatter.</para>
/// </remarks>
internal static class ConsoleLogging
{
    /// <summary>ISO 8601 in UTC: sorts as text and reads the same from every host.</summary>
    public const string TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

    public static WebApplicationBuilder AddConsoleLogDefaults(this WebApplicationBuilder builder)
    {
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);

        // With no formatter name the console logger rebuilds the simple formatter's options from ConsoleLoggerOptions'
        // obsolete properties and ignores every SimpleConsoleFormatterOptions setting (ConsoleLoggerProvider.
        // ReloadLoggerOptions → UpdateFormatterOptions in dotnet/runtime): name the formatter so ours apply.
        builder.Services.PostConfigure<ConsoleLoggerOptions>(o =>
        {
            if (string.IsNullOrEmpty(o.FormatterName))
            {
                o.FormatterName = ConsoleFormatterNames.Simple;
            }
        });

        // Configure runs after the host's binding of FormatterOptions and decides again from the configuration, so a
        // setting made there wins and every other option gets our default.
        var console = builder.Configuration.GetSection("Logging:Console");
        builder.Services.Configure<SimpleConsoleFormatterOptions>(o =>
        {
            ApplyDefaults(o, console, TimestampFormat + " ");
            o.SingleLine = Flag(console, nameof(SimpleConsoleFormatterOptions.SingleLine)) ?? true;
        });
        builder.Services.Configure<JsonConsoleFormatterOptions>(o => ApplyDefaults(o, console, TimestampFormat));

        // The same lines, written in batches (BatchedConsoleLoggerProvider). Not on Windows, where .NET's console logger
        // turns ANSI colours into console calls for consoles that lack them.
        var dotnetConsole = builder.Services.Where(IsConsoleProvider).ToList();
        if (!OperatingSystem.IsWindows() && dotnetConsole.Count > 0)
        {
            foreach (var provider in dotnetConsole)
            {
                builder.Services.Remove(provider);
            }

            builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ILoggerProvider, BatchedConsoleLoggerProvider>());
        }

        return builder;
    }

    private static bool IsConsoleProvider(ServiceDescriptor d) => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider);

    private static void ApplyDefaults(ConsoleFormatterOptions options, IConfiguration console, string timestampFormat)
    {
        options.IncludeScopes = Flag(console, nameof(ConsoleFormatterOptions.IncludeScopes)) ?? true;
        options.UseUtcTimestamp = Flag(console, nameof(ConsoleFormatterOptions.UseUtcTimestamp)) ?? true;
        options.TimestampFormat = Setting(console, nameof(ConsoleFormatterOptions.TimestampFormat)) ?? timestampFormat;
    }

    /// <summary>
    /// <c>Logging:Console:FormatterOptions:{name}</c>, else the obsolete <c>Logging:Console:{name}</c> of
    /// <see cref="ConsoleLoggerOptions"/>, which applied while no formatter was named and so keeps applying.
    /// </summary>
    private static string? Setting(IConfiguration console, string name) => console[$"FormatterOptions:{name}"] ?? console[name];

    private static bool? Flag(IConfiguration console, string name) => bool.TryParse(Setting(console, name), out var value) ? value : null;
}
