using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>A real worker (silo) or API process started from its built dll, on its own ports.</summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(Process process, string name, int httpPort, int siloPort, int gatewayPort, string httpHost)
    {
        _process = process;
        Name = name;
        HttpPort = httpPort;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://{httpHost}:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Name { get; }
    public int HttpPort { get; }
    public int SiloPort { get; }
    public int GatewayPort { get; }
    public HttpClient Http { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts a silo against <paramref name="redis"/> (or embedded when null).</summary>
    /// <param name="name">A name for messages.</param>
    /// <param name="redis">The Redis connection string, or null for the in-memory store and localhost clustering.</param>
    /// <param name="extra">Environment settings that override the defaults (e.g. <c>Orleans__Endpoints__AdvertisedIPAddress</c>).</param>
    /// <param name="dll">The silo dll; the built one by default.</param>
    /// <param name="wrap">Rewrites the command line, e.g. <c>ns.Wrap</c> (<see cref="NetworkNamespace"/>) to run it inside a namespace.</param>
    /// <param name="httpHost">Where <see cref="Http"/> reaches the process (default 127.0.0.1; a namespace's address for a silo inside one).</param>
    public static HostProcess StartSilo(string name, string? redis, IDictionary<string, string>? extra = null, string? dll = null,
        Func<(string File, string[] Args), (string File, string[] Args)>? wrap = null, string? httpHost = null)
    {
        var (http, silo, gateway) = (RedisServer.FreePort(), RedisServer.FreePort(), RedisServer.FreePort());
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_HTTP_PORTS"] = http.ToString(),
            ["Orleans__Endpoints__SiloPort"] = silo.ToString(),
            ["Orleans__Endpoints__GatewayPort"] = gateway.ToString(),
            ["Orleans__Endpoints__AdvertisedIPAddress"] = "127.0.0.1",
            ["Orleans__ClusterId"] = "test",
            ["Orleans__ServiceId"] = "test",
        };
        if (redis is not null)
        {
            env["ConnectionStrings__redis"] = redis;
        }
        else
        {
            // Embedded: a data directory of its own, so tests running side by side never share one.
            env["Worker__Embedded__DataDirectory"] = Path.Combine(Path.GetTempPath(), "ow-data-" + Guid.NewGuid().ToString("N"));
        }

        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        return Start(name, dll ?? ProjectDll("OrleansWorker.Silo"), env, http, silo, gateway, wrap, httpHost);
    }

    /// <summary>Starts the API against the cluster in <paramref name="redis"/>; <paramref name="wrap"/> and <paramref name="httpHost"/> as for <see cref="StartSilo"/>.</summary>
    public static HostProcess StartApi(string redis, IDictionary<string, string>? extra = null, string? dll = null,
        Func<(string File, string[] Args), (string File, string[] Args)>? wrap = null, string? httpHost = null)
    {
        var http = RedisServer.FreePort();
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_HTTP_PORTS"] = http.ToString(),
            ["ConnectionStrings__redis"] = redis,
            ["Orleans__ClusterId"] = "test",
            ["Orleans__ServiceId"] = "test",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        return Start("api", dll ?? ProjectDll("OrleansWorker.Api"), env, http, 0, 0, wrap, httpHost);
    }

    /// <summary>Starts any ASP.NET Core app's dll on a free HTTP port (<c>ASPNETCORE_HTTP_PORTS</c>) with <paramref name="env"/>.</summary>
    public static HostProcess StartApp(string name, string dll, IDictionary<string, string> env)
    {
        var http = RedisServer.FreePort();
        var all = new Dictionary<string, string>(env) { ["ASPNETCORE_HTTP_PORTS"] = http.ToString() };
        return Start(name, dll, all, http, 0, 0, null, null);
    }

    /// <summary>The built dll of a host project under <c>src/</c>, in the configuration the tests run in.</summary>
    public static string ProjectDll(string project) => Path.Combine(RepoRoot(), "src", project, "bin", BuildConfiguration(), "net10.0", project + ".dll");

    private static HostProcess Start(string name, string dll, Dictionary<string, string> env, int http, int silo, int gateway,
        Func<(string File, string[] Args), (string File, string[] Args)>? wrap, string? httpHost)
    {
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is missing: build the solution first (dotnet build OrleansWorker.sln).");
        }

        var (file, args) = wrap?.Invoke(("dotnet", [dll])) ?? ("dotnet", [dll]);
        var info = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        foreach (var (k, v) in env)
        {
            info.Environment[k] = v;
        }

        var process = Process.Start(info)!;
        var host = new HostProcess(process, name, http, silo, gateway, httpHost ?? "127.0.0.1");
        process.OutputDataReceived += (_, e) => host.Append(e.Data);
        process.ErrorDataReceived += (_, e) => host.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return host;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>Polls <c>/health/ready</c> until it answers 200.</summary>
    public Task WaitReadyAsync(TimeSpan? timeout = null) =>
        Poll.UntilAsync(async () =>
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
            }

            using var response = await Http.GetAsync("/health/ready");
            return response.IsSuccessStatusCode;
        }, timeout ?? TimeSpan.FromSeconds(60), $"{Name} to report ready on :{HttpPort}");

    /// <summary>kill -9.</summary>
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM, as docker stop or systemd would send it.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -TERM {_process.Id} failed.");
        }
    }

    public Task WaitForExitAsync(TimeSpan timeout) =>
        _process.WaitForExitAsync().WaitAsync(timeout);

    public int ExitCode => _process.ExitCode;

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Http.Dispose();
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OrleansWorker.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("OrleansWorker.sln not found above the test directory.");
    }

    /// <summary>The configuration the tests were built in (Debug, Release), read from their output directory.</summary>
    public static string BuildConfiguration() =>
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
}
