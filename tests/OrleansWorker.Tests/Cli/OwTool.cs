using System.Diagnostics;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Cli;

/// <summary>The outcome of one <c>ow</c> run.</summary>
public sealed record OwResult(string Command, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Standard output parsed as the one JSON document <c>--json</c> promises.</summary>
    public JsonElement Json()
    {
        try
        {
            using var document = JsonDocument.Parse(StandardOutput);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"{this} did not write one JSON document: {ex.Message}", ex);
        }
    }

    /// <summary>The lines written on standard error.</summary>
    public string[] ErrorLines => StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"'{Command}' -> {ExitCode}; stdout: {StandardOutput.Trim()}; stderr: {StandardError.Trim()}";
}

/// <summary>
/// The packed tool as an operator gets it: <c>dotnet pack</c> into a private feed, <c>dotnet tool install --tool-path</c>
/// from that feed (with a private NuGet cache, so a stale package of the same version can never be picked up), plus a
/// real worker with its embedded store to talk to.
/// </summary>
public sealed class OwTool : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "ow-cli-" + Guid.NewGuid().ToString("N"));

    public HostProcess Worker { get; private set; } = null!;

    /// <summary>The installed <c>ow</c> executable.</summary>
    public string Executable { get; private set; } = null!;

    /// <summary>The packed version (VersionPrefix of Directory.Build.props), read from the .nupkg name.</summary>
    public string Version { get; private set; } = null!;

    public string WorkerUrl => $"http://127.0.0.1:{Worker.HttpPort}";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        Worker = HostProcess.StartSilo("cli-worker", redis: null);
        await Task.WhenAll(InstallAsync(), Worker.WaitReadyAsync());
    }

    private async Task InstallAsync()
    {
        var feed = Path.Combine(_root, "feed");
        var project = Path.Combine(HostProcess.RepoRoot(), "src", "OrleansWorker.Cli");
        var pack = await RunProcessAsync("dotnet", ["pack", project, "-c", HostProcess.BuildConfiguration(), "-o", feed, "--nologo", "--disable-build-servers"],
            null, null, TimeSpan.FromMinutes(5));
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed: {pack}");

        var package = Assert.Single(Directory.GetFiles(feed, "OrleansWorker.Cli.*.nupkg"));
        Version = Path.GetFileNameWithoutExtension(package)["OrleansWorker.Cli.".Length..];

        var config = Path.Combine(_root, "nuget.config");
        await File.WriteAllTextAsync(config,
            $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><clear /><add key="feed" value="{feed}" /></packageSources></configuration>""");
        var tools = Path.Combine(_root, "tools");
        var install = await RunProcessAsync("dotnet",
            ["tool", "install", "OrleansWorker.Cli", "--tool-path", tools, "--add-source", feed, "--configfile", config, "--version", Version],
            new Dictionary<string, string?> { ["NUGET_PACKAGES"] = Path.Combine(_root, "packages") }, null, TimeSpan.FromMinutes(3));
        Assert.True(install.ExitCode == 0, $"dotnet tool install failed: {install}");
        Executable = Path.Combine(tools, "ow");
        Assert.True(File.Exists(Executable), $"{Executable} is missing after the install: {install}");
    }

    /// <summary>Runs <c>ow args --url (the worker)</c>; <paramref name="url"/> overrides the address.</summary>
    public Task<OwResult> RunAsync(IEnumerable<string> args, string? stdin = null, IDictionary<string, string?>? environment = null, string? url = null,
        TimeSpan? timeout = null) =>
        RunProcessAsync(Executable, [.. args, "--url", url ?? WorkerUrl], environment, stdin, timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Runs <c>ow</c> with exactly <paramref name="args"/> (no <c>--url</c> added).</summary>
    public Task<OwResult> RunRawAsync(IEnumerable<string> args) =>
        RunProcessAsync(Executable, args, null, null, TimeSpan.FromSeconds(60));

    public Task<OwResult> RunAsync(params string[] args) => RunAsync(args, stdin: null);

    private static async Task<OwResult> RunProcessAsync(string file, IEnumerable<string> args, IDictionary<string, string?>? environment, string? stdin,
        TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // The tool's settings come from each test, never from the machine running the tests.
        info.Environment.Remove("OW_URL");
        info.Environment.Remove("OW_API_KEY");
        info.Environment["DOTNET_ROOT"] = DotnetRoot();
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            info.Environment[name] = value;
        }

        var command = Path.GetFileName(file) + " " + string.Join(' ', info.ArgumentList);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"'{command}' did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"'{command}' did not finish within {timeout.TotalSeconds:0} s; stdout: {await stdout}; stderr: {await stderr}");
        }

        return new OwResult(command, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The .NET installation running the tests: the tool's apphost needs one.</summary>
    private static string DotnetRoot() =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));

    public async Task DisposeAsync()
    {
        if (Worker is not null)
        {
            await Worker.DisposeAsync();
        }

        TempDirectory.Delete(_root);
    }
}
