using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>Proves <see cref="NetworkNamespace"/> on this machine: TCP crosses both ways, stops when cut, resumes when restored.</summary>
[Trait("Category", "Infrastructure")]
public sealed class NetworkNamespaceTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan CutProbe = TimeSpan.FromSeconds(2);

    private static async Task<NetworkNamespace> CreateAsync()
    {
        Assert.True(NetworkNamespace.IsSupported, "Network namespace tests need root and iproute2: " + NetworkNamespace.UnsupportedReason);
        return await NetworkNamespace.CreateAsync();
    }

    [Fact]
    public async Task Create_GivesAPrivateSlash30_AndBothEndsAreUp()
    {
        await using var ns = await CreateAsync();
        Assert.Matches(@"^ow-[0-9a-f]{6}$", ns.Name);
        Assert.True(ns.HostInterface.Length <= 15 && ns.NamespaceInterface.Length <= 15);
        Assert.StartsWith("10.213.", ns.HostAddress, StringComparison.Ordinal);
        var host = IPAddress.Parse(ns.HostAddress).GetAddressBytes();
        var inside = IPAddress.Parse(ns.NamespaceAddress).GetAddressBytes();
        Assert.Equal(1, host[3] % 4);
        Assert.Equal(host[3] + 1, inside[3]);

        var links = (await ns.ExecAsync("ip", ["-o", "link"])).EnsureSuccess().StandardOutput;
        Assert.Contains("lo: <LOOPBACK,UP", links, StringComparison.Ordinal);
        Assert.Contains(ns.NamespaceInterface + "@", links, StringComparison.Ordinal);
        Assert.Contains(ns.Name, (await Shell.RunAsync("ip", ["netns", "list"])).StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FromInside_ToAHostListener_StopsWhenCut_AndResumesWhenRestored()
    {
        await using var ns = await CreateAsync();
        using var listener = new TcpListener(IPAddress.Parse(ns.HostAddress), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var before = await ns.CanConnectFromInsideAsync(ns.HostAddress, port, CutProbe);
        Assert.True(before.Succeeded, before.ToString());
        Assert.Contains("connected", before.StandardOutput, StringComparison.Ordinal);

        await ns.CutAsync();
        var clock = Stopwatch.StartNew();
        var during = await ns.CanConnectFromInsideAsync(ns.HostAddress, port, CutProbe);
        Assert.Equal(124, during.ExitCode); // timeout(1): the SYN was dropped silently, not refused.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the failed connect took {clock.Elapsed}");

        await ns.RestoreAsync();
        var after = await ns.CanConnectFromInsideAsync(ns.HostAddress, port, CutProbe);
        Assert.True(after.Succeeded, after.ToString());
    }

    [Fact]
    public async Task FromHost_ToAListenerInside_StopsWhenCut_AndResumesWhenRestored()
    {
        await using var ns = await CreateAsync();
        var port = RedisServer.FreePort();
        var root = Directory.CreateTempSubdirectory("ow-ns-http-");
        var (file, args) = ns.Wrap("/usr/bin/python3", ["-m", "http.server", "--bind", ns.NamespaceAddress, port.ToString(CultureInfo.InvariantCulture), "--directory", root.FullName]);
        using var server = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var log = new StringBuilder();
        Shell.Capture(server, log);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{ns.NamespaceAddress}:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            await Poll.UntilAsync(async () =>
            {
                Assert.False(server.HasExited, $"http.server inside the namespace exited: {log}");
                using var response = await http.GetAsync("/");
                return response.IsSuccessStatusCode;
            }, Deadline, $"http.server inside {ns.Name} to answer on {ns.NamespaceAddress}:{port}");

            await ns.CutAsync();
            var clock = Stopwatch.StartNew();
            using (var client = new TcpClient())
            using (var cts = new CancellationTokenSource(CutProbe))
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.ConnectAsync(ns.NamespaceAddress, port, cts.Token));
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the failed connect took {clock.Elapsed}");

            await ns.RestoreAsync();
            await Poll.UntilAsync(async () =>
            {
                using var response = await http.GetAsync("/");
                return response.IsSuccessStatusCode;
            }, Deadline, $"http.server inside {ns.Name} to answer again after the link was restored");
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }

            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task RedisOnTheHost_BoundToTheHostAddress_IsReachableFromInside_UntilCut()
    {
        await using var ns = await CreateAsync();
        await using var redis = await RedisServer.StartAsync([ns.HostAddress]);
        var port = redis.Port.ToString(CultureInfo.InvariantCulture);

        var ping = (await ns.ExecAsync("redis-cli", ["-h", ns.HostAddress, "-p", port, "ping"])).EnsureSuccess();
        Assert.Equal("PONG", ping.StandardOutput.Trim());

        // 127.0.0.1 inside the namespace is the namespace's own loopback, not the host's.
        var loopback = await ns.ExecAsync("redis-cli", ["-h", "127.0.0.1", "-p", port, "ping"]);
        Assert.DoesNotContain("PONG", loopback.StandardOutput, StringComparison.Ordinal);

        await ns.CutAsync();
        var during = await ns.ExecAsync("timeout", ["2", "redis-cli", "-h", ns.HostAddress, "-p", port, "ping"]);
        Assert.DoesNotContain("PONG", during.StandardOutput, StringComparison.Ordinal);

        await ns.RestoreAsync();
        Assert.Equal("PONG", (await ns.ExecAsync("redis-cli", ["-h", ns.HostAddress, "-p", port, "ping"])).StandardOutput.Trim());
    }

    [Fact]
    public async Task Silo_InsideANamespace_UsesRedisOnTheHost_AndServesHttpAtTheNamespaceAddress()
    {
        await using var ns = await CreateAsync();
        await using var redis = await RedisServer.StartAsync([ns.HostAddress]);
        await using var silo = HostProcess.StartSilo("ns-silo", $"{ns.HostAddress}:{redis.Port}",
            new Dictionary<string, string> { ["Orleans__Endpoints__AdvertisedIPAddress"] = ns.NamespaceAddress },
            wrap: ns.Wrap, httpHost: ns.NamespaceAddress);
        await silo.WaitReadyAsync();
        Assert.Equal(ns.NamespaceAddress, silo.Http.BaseAddress!.Host);

        await ns.CutAsync();
        using (var cts = new CancellationTokenSource(CutProbe))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => silo.Http.GetAsync("/health/ready", cts.Token));
        }

        await ns.RestoreAsync();
        await silo.WaitReadyAsync();
    }
}
