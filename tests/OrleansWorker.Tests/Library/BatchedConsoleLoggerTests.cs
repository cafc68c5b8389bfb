using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OrleansWorker.ServiceDefaults;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Library;

/// <summary>
/// The hosts' console logger (<see cref="BatchedConsoleLoggerProvider"/>): .NET's formatters and options, lines written
/// in batches by a thread of its own. What the real worker prints is checked by <c>ConsoleLogTests</c>; these check the
/// writer's promises on streams the test holds.
/// </summary>
public sealed partial class BatchedConsoleLoggerTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly ServiceProvider _services;
    private readonly List<IDisposable> _owned = [];

    public BatchedConsoleLoggerTests()
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddSimpleConsole(o => (o.SingleLine, o.IncludeScopes) = (true, true)).AddConfiguration(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build()));
        services.Configure<ConsoleLoggerOptions>(o => o.FormatterName = ConsoleFormatterNames.Simple);
        _services = services.BuildServiceProvider();
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        _services.Dispose();
    }

    private BatchedConsoleLoggerProvider Provider(Stream output, Stream error, Action<ConsoleLoggerOptions>? configure = null)
    {
        var options = _services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue;
        var copy = new ConsoleLoggerOptions
        {
            FormatterName = options.FormatterName,
            LogToStandardErrorThreshold = options.LogToStandardErrorThreshold,
            MaxQueueLength = options.MaxQueueLength,
            QueueFullMode = options.QueueFullMode,
        };
        configure?.Invoke(copy);
        var provider = new BatchedConsoleLoggerProvider(new FixedOptions(copy), _services.GetServices<ConsoleFormatter>(), output, error);
        _owned.Add(provider);
        return provider;
    }

    [Fact]
    public async Task LinesFromManyThreads_EachWrittenOnce_InItsThreadsOrder_AsTheSimpleFormatterWritesThem()
    {
        var output = new CapturingStream();
        var provider = Provider(output, new CapturingStream());
        var scopes = new LoggerExternalScopeProvider();
        provider.SetScopeProvider(scopes);
        var logger = provider.CreateLogger("Test.Category");

        const int Threads = 4, Lines = 5000;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            using var scope = logger.BeginScope("thread {Thread}", t);
            for (var i = 0; i < Lines; i++)
            {
                ThreadLine(logger, t, i);
            }
        })));

        var lines = await Poll.UntilAsync(() => Task.FromResult(output.Lines()), l => l.Count >= Threads * Lines, Deadline, $"{Threads * Lines} lines on the output stream");
        Assert.Equal(Threads * Lines, lines.Count);
        Assert.Equal("info: Test.Category[7] => thread 0 line 0/0", lines.First(l => l.EndsWith(" line 0/0", StringComparison.Ordinal)));
        for (var t = 0; t < Threads; t++)
        {
            var own = lines.Where(l => l.StartsWith($"info: Test.Category[7] => thread {t} line {t}/", StringComparison.Ordinal)).ToList();
            Assert.Equal(Enumerable.Range(0, Lines).Select(i => $"info: Test.Category[7] => thread {t} line {t}/{i}"), own);
        }

        Assert.True(output.Writes < lines.Count, $"{lines.Count} lines took {output.Writes} writes: the writer batches what queued up");
    }

    [Fact]
    public async Task ALoneLine_IsWrittenWithoutWaitingForMore_AndErrorsGoToStandardErrorFromTheThreshold()
    {
        var (output, error) = (new CapturingStream(), new CapturingStream());
        var logger = Provider(output, error, o => o.LogToStandardErrorThreshold = LogLevel.Warning).CreateLogger("Test");

        logger.LogInformation("first");
        await Poll.UntilAsync(() => output.Lines().Count == 1, Deadline, "the lone line on the output stream");
        Assert.Equal(["info: Test[0] first"], output.Lines());
        Assert.Empty(error.Lines());

        logger.LogWarning("second");
        await Poll.UntilAsync(() => error.Lines().Count == 1, Deadline, "the warning on the error stream");
        Assert.Equal(["warn: Test[0] second"], error.Lines());
        Assert.Equal(["info: Test[0] first"], output.Lines());
    }

    [Fact]
    public async Task AFullQueue_MakesTheLoggerWait_UntilTheWriterTakesEntries()
    {
        var output = new CapturingStream { Gate = new ManualResetEventSlim(false) };
        var provider = Provider(output, new CapturingStream(), o => o.MaxQueueLength = 10);
        var logger = provider.CreateLogger("Test");

        // The first line's write blocks on the gate (waited for, so the writer cannot take the others first); the next
        // ten fill the queue; the rest must wait.
        Line(logger, 0);
        await Poll.UntilAsync(() => output.Blocked, Deadline, "the writer blocked on its first write");
        var producer = Task.Run(() =>
        {
            for (var i = 1; i < 50; i++)
            {
                Line(logger, i);
            }
        });
        await Poll.UntilAsync(() => provider.Writer.Queued >= 10, Deadline, "the queue full");
        Assert.False(producer.IsCompleted, "with the queue full and the writer blocked, the logging thread waits");

        output.Gate.Set();
        await producer.WaitAsync(Deadline);
        var lines = await Poll.UntilAsync(() => Task.FromResult(output.Lines()), l => l.Count == 50, Deadline, "all 50 lines");
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"info: Test[0] line {i}"), lines);
        Assert.Equal(0, provider.Writer.Dropped);
    }

    [Fact]
    public async Task AFullQueue_WithDropWrite_DropsWithoutWaiting_AndSaysHowManyWereDropped()
    {
        var output = new CapturingStream { Gate = new ManualResetEventSlim(false) };
        var provider = Provider(output, new CapturingStream(), o => (o.MaxQueueLength, o.QueueFullMode) = (10, ConsoleLoggerQueueFullMode.DropWrite));
        var logger = provider.CreateLogger("Test");

        Line(logger, 0);
        await Poll.UntilAsync(() => output.Blocked, Deadline, "the writer blocked on its first write");
        for (var i = 1; i < 50; i++)
        {
            Line(logger, i);
        }

        // This thread was never made to wait (the gate is still shut): 10 queued, 39 dropped.
        Assert.Equal(39, provider.Writer.Dropped);
        output.Gate.Set();
        var lines = await Poll.UntilAsync(() => Task.FromResult(output.Lines()), l => l.Count == 12, Deadline, "11 lines and the report");
        Assert.Equal(Enumerable.Range(0, 11).Select(i => $"info: Test[0] line {i}"), lines.Take(11));
        Assert.StartsWith("39 console log entries were dropped", lines[11], StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_WritesWhatIsQueued_AndLaterLinesGoOutAtOnce()
    {
        var output = new CapturingStream();
        var provider = Provider(output, new CapturingStream());
        var logger = provider.CreateLogger("Test");
        for (var i = 0; i < 1000; i++)
        {
            Line(logger, i);
        }

        provider.Dispose();
        Assert.Equal(1000, output.Lines().Count);

        logger.LogInformation("after");
        Assert.Equal("info: Test[0] after", output.Lines()[^1]);
    }

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "line {Thread}/{Index}")]
    private static partial void ThreadLine(ILogger logger, int thread, int index);

    [LoggerMessage(EventId = 0, Level = LogLevel.Information, Message = "line {Index}")]
    private static partial void Line(ILogger logger, int index);

    private sealed class FixedOptions(ConsoleLoggerOptions value) : IOptionsMonitor<ConsoleLoggerOptions>
    {
        public ConsoleLoggerOptions CurrentValue => value;

        public ConsoleLoggerOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<ConsoleLoggerOptions, string?> listener) => null;
    }

    /// <summary>A stream that keeps what is written (and counts the writes); with a gate, each write first waits on it.</summary>
    private sealed class CapturingStream : Stream
    {
        private readonly MemoryStream _data = new();
        private int _writes;
        private volatile bool _blocked;

        public ManualResetEventSlim? Gate { get; init; }

        public bool Blocked => _blocked;

        public int Writes => Volatile.Read(ref _writes);

        public List<string> Lines()
        {
            lock (_data)
            {
                return Encoding.UTF8.GetString(_data.ToArray()).Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).ToList();
            }
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (Gate is { } gate)
            {
                _blocked = !gate.IsSet;
                gate.Wait();
                _blocked = false;
            }

            lock (_data)
            {
                _data.Write(buffer, offset, count);
            }

            Interlocked.Increment(ref _writes);
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
