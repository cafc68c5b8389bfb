using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace OrleansWorker.ServiceDefaults;

/// <summary>
/// The console logger of both hosts: the same lines as .NET's console logger (its formatters, chosen by
/// <c>Logging:Console:FormatterName</c>, and its <see cref="ConsoleLoggerOptions"/>: the standard-error threshold, the
/// queue length and what a full queue does), written in batches.
/// </summary>
/// <remarks>
/// .NET's console logger hands each entry to its writer thread under a lock, and that thread makes one <c>write</c> call
/// per entry. A busy worker logs a line per job: ≈ 10 µs of CPU per job in the shipped host, contended between the
/// threads running jobs (<c>docs/benchmarks.md</c>). Here entries go through a lock-free queue, and the writer thread
/// writes whatever has queued up in one call, so it costs one call per batch under load and still writes a lone line at
/// once. Formatting stays on the calling thread, where the entry's state and scopes are.
/// </remarks>
[ProviderAlias("Console")]
internal sealed class BatchedConsoleLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly Dictionary<string, ConsoleFormatter> _formatters;
    private readonly IDisposable? _reload;
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();
    private volatile LineSettings _settings;

    public BatchedConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters)
        : this(options, formatters, Console.OpenStandardOutput(), Console.OpenStandardError())
    {
    }

    internal BatchedConsoleLoggerProvider(IOptionsMonitor<ConsoleLoggerOptions> options, IEnumerable<ConsoleFormatter> formatters, Stream output, Stream error)
    {
        _formatters = formatters.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.Last(), StringComparer.OrdinalIgnoreCase);
        _settings = SettingsOf(options.CurrentValue);
        Writer = new ConsoleLineWriter(output, error, options.CurrentValue.MaxQueueLength, options.CurrentValue.QueueFullMode);
        _reload = options.OnChange(o =>
        {
            Writer.Configure(o.MaxQueueLength, o.QueueFullMode);
            _settings = SettingsOf(o);
        });
    }

    internal ConsoleLineWriter Writer { get; }

    /// <summary>How every category formats and where its lines go, as configured now.</summary>
    internal LineSettings Settings => _settings;

    /// <summary>A logger for the category (the logger factory keeps one per category).</summary>
    public ILogger CreateLogger(string categoryName) => new BatchedConsoleLogger(categoryName, this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    internal IExternalScopeProvider Scopes => _scopes;

    public void Dispose()
    {
        _reload?.Dispose();
        Writer.Dispose();
    }

    /// <summary>The named formatter (the simple one when the name is unknown or unset, as .NET's console logger does) and the standard-error threshold.</summary>
    private LineSettings SettingsOf(ConsoleLoggerOptions options) => new(
        _formatters.TryGetValue(options.FormatterName ?? ConsoleFormatterNames.Simple, out var named) ? named
        : _formatters.TryGetValue(ConsoleFormatterNames.Simple, out var simple) ? simple
        : throw new InvalidOperationException("No console formatter is registered (AddConsole registers them)."),
        options.LogToStandardErrorThreshold);
}

/// <summary>The formatter of every line, and the level from which lines go to standard error.</summary>
internal sealed record LineSettings(ConsoleFormatter Formatter, LogLevel ErrorThreshold);

/// <summary>One category's logger: formats on the calling thread, then queues the text.</summary>
internal sealed class BatchedConsoleLogger(string category, BatchedConsoleLoggerProvider provider) : ILogger
{
    [ThreadStatic]
    private static StringWriter? t_text;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => provider.Scopes.Push(state);

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var settings = provider.Settings;
        var text = t_text ??= new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var buffer = text.GetStringBuilder();
        buffer.Clear();
        settings.Formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), provider.Scopes, text);
        if (buffer.Length == 0)
        {
            return;
        }

        var line = buffer.ToString();

        // A formatter's output for one long entry would otherwise stay this thread's for good.
        if (buffer.Capacity > 16 * 1024)
        {
            t_text = null;
        }

        provider.Writer.Enqueue(line, logLevel >= settings.ErrorThreshold);
    }
}

/// <summary>
/// Writes queued console text on a thread of its own: everything queued since its last write, in one write per stream,
/// then waits for more. Bounded like .NET's console logger: a full queue makes the logging thread wait, or drops the
/// entry and reports how many were dropped (<see cref="ConsoleLoggerQueueFullMode"/>).
/// </summary>
internal sealed class ConsoleLineWriter : IDisposable
{
    private const int FlushAt = 64 * 1024;

    private readonly ConcurrentQueue<(string Text, bool Error)> _queue = new();
    private readonly Stream _output, _error;
    private readonly MemoryStream _outputBatch = new(), _errorBatch = new();
    private readonly Encoder _encoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetEncoder();
    private readonly byte[] _bytes = new byte[FlushAt + 1024];
    private readonly SemaphoreSlim _wake = new(0);
    private readonly ManualResetEventSlim _space = new(true, spinCount: 1);
    private readonly Thread _thread;
    private readonly Lock _io = new();
    private int _queued, _sleeping, _maxQueued;
    private long _dropped, _reported;
    private volatile bool _drop, _stopping;

    public ConsoleLineWriter(Stream output, Stream error, int maxQueued, ConsoleLoggerQueueFullMode whenFull)
    {
        (_output, _error) = (output, error);
        Configure(maxQueued, whenFull);
        _thread = new Thread(Run) { IsBackground = true, Name = "OW console lines" };
        _thread.Start();
    }

    public void Configure(int maxQueued, ConsoleLoggerQueueFullMode whenFull)
    {
        _maxQueued = maxQueued > 0 ? maxQueued : 2500;
        _drop = whenFull == ConsoleLoggerQueueFullMode.DropWrite;
    }

    /// <summary>Entries queued and not yet taken by the writer.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Entries dropped since start because the queue was full (<see cref="ConsoleLoggerQueueFullMode.DropWrite"/>).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Enqueue(string text, bool error)
    {
        if (_stopping)
        {
            // After disposal (the host's last lines): straight out, after anything still queued.
            lock (_io)
            {
                Drain();
                Write(text, error);
                Flush();
            }

            return;
        }

        while (Volatile.Read(ref _queued) >= _maxQueued)
        {
            if (_drop)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }

            _space.Reset();
            if (Volatile.Read(ref _queued) >= _maxQueued && !_stopping)
            {
                // Bounded, in case the writer emptied the queue between the check and the reset.
                _space.Wait(TimeSpan.FromMilliseconds(50));
            }
        }

        Interlocked.Increment(ref _queued);
        _queue.Enqueue((text, error));

        // The writer sets _sleeping before it looks at the queue a last time: it sees this entry, or this sees it asleep.
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Release();
        }
    }

    private void Run()
    {
        while (true)
        {
            lock (_io)
            {
                Drain();
                Flush();
            }

            if (_stopping)
            {
                return;
            }

            Interlocked.Exchange(ref _sleeping, 1);
            if (!_queue.IsEmpty || _stopping)
            {
                Interlocked.Exchange(ref _sleeping, 0);
                continue;
            }

            _wake.Wait();
        }
    }

    /// <summary>Moves the queued entries into the batches (writing a batch out when it is full). Under <see cref="_io"/>.</summary>
    private void Drain()
    {
        while (_queue.TryDequeue(out var entry))
        {
            Write(entry.Text, entry.Error);

            // Waiting loggers resume once half the queue is free: together, not one per entry written.
            if (Interlocked.Decrement(ref _queued) <= _maxQueued / 2 && !_space.IsSet)
            {
                _space.Set();
            }

            if (_outputBatch.Length + _errorBatch.Length >= FlushAt)
            {
                Flush();
            }
        }

        var dropped = Dropped;
        if (dropped != _reported)
        {
            Write($"{dropped - _reported} console log entries were dropped because the queue was full (Logging:Console:MaxQueueLength, QueueFullMode DropWrite).{Environment.NewLine}", error: false);
            _reported = dropped;
        }
    }

    private void Write(string text, bool error)
    {
        var batch = error ? _errorBatch : _outputBatch;
        var chars = text.AsSpan();
        while (!chars.IsEmpty)
        {
            _encoder.Convert(chars, _bytes, flush: true, out var used, out var written, out _);
            batch.Write(_bytes, 0, written);
            chars = chars[used..];
        }
    }

    private void Flush()
    {
        Flush(_outputBatch, _output);
        Flush(_errorBatch, _error);
    }

    private static void Flush(MemoryStream batch, Stream stream)
    {
        if (batch.Length == 0)
        {
            return;
        }

        try
        {
            stream.Write(batch.GetBuffer(), 0, (int)batch.Length);
            stream.Flush();
        }
        catch (IOException)
        {
            // A closed console (the reading end went away): nothing to write to, as with .NET's console logger.
        }
        catch (ObjectDisposedException)
        {
        }

        batch.SetLength(0);
        if (batch.Capacity > 4 * FlushAt)
        {
            batch.Capacity = FlushAt;
        }
    }

    /// <summary>Writes what is queued and stops the thread; entries logged after this are written at once.</summary>
    public void Dispose()
    {
        _stopping = true;
        _space.Set();
        Interlocked.Exchange(ref _sleeping, 0);
        _wake.Release();

        // A writer stuck in a write (a console nobody reads) is left behind, as .NET's console logger leaves its own.
        if (_thread.Join(TimeSpan.FromSeconds(5)))
        {
            lock (_io)
            {
                // Whatever a logging thread queued as the writer stopped.
                Drain();
                Flush();
            }
        }
    }
}
