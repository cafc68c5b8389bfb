using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>
/// A Linux network namespace for one test, joined to the host by a veth pair on a private /30 (10.213.X.Y), so that a
/// process started inside it (see <see cref="Wrap(string, IEnumerable{string})"/>) can be cut off from the host and
/// reconnected. Needs root and iproute2 (<see cref="IsSupported"/>). Dispose deletes the veth pair and the namespace (also
/// after a failed test) but kills nothing: dispose the processes running inside first (declare the namespace before them
/// with <c>await using</c>, so that it is disposed after them).
/// </summary>
/// <remarks>
/// <para>Inside, only <c>lo</c> and the veth exist: a process there reaches the host only at <see cref="HostAddress"/> (not
/// at 127.0.0.1, which is its own loopback), and the host reaches it only at <see cref="NamespaceAddress"/>. A server on the
/// host meant for it must listen on <see cref="HostAddress"/> (or 0.0.0.0). The namespace's only route is the /30: with no
/// default route, anything else (the host's other addresses, the DNS server of /etc/resolv.conf) fails at once with
/// "network unreachable" instead of hanging, so name lookups inside fail fast: use addresses, not host names.</para>
/// <para><see cref="CutAsync"/> points the neighbour (ARP) entry of the peer, on both ends, at a MAC nobody has, so every
/// packet either way is dropped silently, as on a real partition: new connections time out rather than being refused, and
/// established ones stall until their own timeouts. The links stay up, so no route changes: <c>ip link set HOSTVETH down</c>
/// would drop the host's route to the /30 and send packets for <see cref="NamespaceAddress"/> out of the default route
/// (on this machine the gateway answered them with RST, i.e. "connection refused").</para>
/// </remarks>
public sealed class NetworkNamespace : IAsyncDisposable
{
    /// <summary>A locally administered unicast MAC that no interface has; frames sent to it are dropped by the peer.</summary>
    private const string NowhereMac = "02:00:00:00:00:01";

    private static readonly Lazy<string?> UnsupportedReasonValue = new(ProbeSupport);
    private static readonly Lock SubnetLock = new();
    private static readonly HashSet<string> SubnetsHandedOut = [];
    private bool _disposed;
    private bool _vethCreated;

    private NetworkNamespace(string name, string subnet, string hostAddress, string namespaceAddress)
    {
        Name = name;
        Subnet = subnet;
        HostInterface = name + "-h";
        NamespaceInterface = name + "-n";
        HostAddress = hostAddress;
        NamespaceAddress = namespaceAddress;
    }

    /// <summary>The namespace's name, <c>ow-</c> and six hex digits; also the prefix of the veth names.</summary>
    public string Name { get; }

    /// <summary>The /30 the pair lives on, e.g. <c>10.213.7.0/30</c>.</summary>
    public string Subnet { get; }

    /// <summary>The veth end on the host.</summary>
    public string HostInterface { get; }

    /// <summary>The veth end inside the namespace.</summary>
    public string NamespaceInterface { get; }

    /// <summary>The host's address on the pair: where a process inside reaches the host.</summary>
    public string HostAddress { get; }

    /// <summary>The namespace's address: where the host reaches a process inside.</summary>
    public string NamespaceAddress { get; }

    /// <summary>Whether <see cref="CutAsync"/> is in effect.</summary>
    public bool IsCut { get; private set; }

    /// <summary>True when this process can create namespaces (root, iproute2, <c>ip netns add</c> works).</summary>
    public static bool IsSupported => UnsupportedReasonValue.Value is null;

    /// <summary>Why <see cref="IsSupported"/> is false, or null.</summary>
    public static string? UnsupportedReason => UnsupportedReasonValue.Value;

    /// <summary>Creates the namespace, the veth pair and the addresses, brings everything up and checks TCP crosses.</summary>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        if (UnsupportedReason is { } reason)
        {
            throw new InvalidOperationException("Network namespaces are not available: " + reason);
        }

        Exception? last = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var ns = await TryCreateAsync();
            try
            {
                await ns.SetUpAsync();
                await ns.WaitConnectedAsync();
                return ns;
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                last = ex;
                await ns.DisposeAsync();
            }
            catch
            {
                await ns.DisposeAsync();
                throw;
            }
        }

        throw new InvalidOperationException("Could not create a network namespace.", last);
    }

    /// <summary>
    /// The command line that runs <paramref name="fileName"/> inside the namespace: <c>ip netns exec NAME file args…</c>.
    /// <c>ip netns exec</c> execs the program, so the started process is the program itself (its pid, its exit code) and
    /// it keeps the caller's environment.
    /// </summary>
    public (string FileName, string[] Args) Wrap(string fileName, IEnumerable<string> args) =>
        (IpPath(), ["netns", "exec", Name, fileName, .. args]);

    /// <summary><see cref="Wrap(string, IEnumerable{string})"/> in the shape <see cref="HostProcess.StartSilo"/> takes: <c>wrap: ns.Wrap</c>.</summary>
    public (string File, string[] Args) Wrap((string File, string[] Args) command) => Wrap(command.File, command.Args);

    /// <summary>Runs a short command inside the namespace and returns its outcome.</summary>
    public Task<ShellResult> ExecAsync(string fileName, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var (file, wrapped) = Wrap(fileName, args);
        return Shell.RunAsync(file, wrapped, timeout);
    }

    /// <summary>
    /// Cuts the link: from now on no packet crosses in either direction (silently dropped, no RST or ICMP), for
    /// established connections too. Processes inside keep running.
    /// </summary>
    public async Task CutAsync()
    {
        await IpAsync("neigh", "replace", NamespaceAddress, "lladdr", NowhereMac, "dev", HostInterface, "nud", "permanent");
        await IpAsync("netns", "exec", Name, "ip", "neigh", "replace", HostAddress, "lladdr", NowhereMac, "dev", NamespaceInterface, "nud", "permanent");
        IsCut = true;
    }

    /// <summary>Reconnects after <see cref="CutAsync"/> and waits until a TCP connection from inside to the host succeeds again.</summary>
    public async Task RestoreAsync()
    {
        // Without the entries the kernel resolves the peer by ARP again. Not cut (no entry): nothing to delete.
        await Shell.RunAsync(IpPath(), ["neigh", "del", NamespaceAddress, "dev", HostInterface]);
        await Shell.RunAsync(IpPath(), ["netns", "exec", Name, "ip", "neigh", "del", HostAddress, "dev", NamespaceInterface]);
        IsCut = false;
        await WaitConnectedAsync();
    }

    /// <summary>
    /// Waits until a TCP connection from inside the namespace to a listener on <see cref="HostAddress"/> succeeds. A handshake
    /// needs both directions, so this proves the link carries traffic both ways.
    /// </summary>
    public async Task WaitConnectedAsync(TimeSpan? timeout = null)
    {
        using var listener = new TcpListener(IPAddress.Parse(HostAddress), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await Poll.UntilAsync(async () => (await CanConnectFromInsideAsync(HostAddress, port, TimeSpan.FromSeconds(1))).Succeeded,
            timeout ?? TimeSpan.FromSeconds(20), $"a TCP connection from namespace {Name} to {HostAddress}:{port}");
    }

    /// <summary>Runs <c>bash -c 'exec 3&lt;&gt;/dev/tcp/HOST/PORT'</c> inside the namespace under <c>timeout</c>; exit 0 when it connected.</summary>
    public Task<ShellResult> CanConnectFromInsideAsync(string host, int port, TimeSpan limit) =>
        ExecAsync("timeout", [Seconds(limit), "bash", "-c", $"exec 3<>/dev/tcp/{host}/{port} && echo connected"], limit + TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Deleting either end deletes the pair; the namespace goes once no process is left inside. Both may be gone already.
        if (_vethCreated)
        {
            await Shell.RunAsync(IpPath(), ["link", "del", HostInterface]);
        }

        await Shell.RunAsync(IpPath(), ["netns", "del", Name]);
        lock (SubnetLock)
        {
            SubnetsHandedOut.Remove(Subnet);
        }
    }

    private static string Seconds(TimeSpan span) => Math.Max(1, span.TotalSeconds).ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>Picks a name no namespace has and a /30 no address or route of the host touches, and creates the namespace.</summary>
    private static async Task<NetworkNamespace> TryCreateAsync()
    {
        var taken = (await Shell.RunAsync(IpPath(), ["-4", "-o", "addr"])).StandardOutput + (await Shell.RunAsync(IpPath(), ["-4", "route"])).StandardOutput;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var name = "ow-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
            var x = RandomNumberGenerator.GetInt32(0, 256);
            var block = RandomNumberGenerator.GetInt32(0, 64) * 4;
            var subnet = $"10.213.{x}.{block}/30";
            var prefix = $"10.213.{x}.";
            if (Enumerable.Range(block, 4).Any(host => Mentions(taken, prefix + host)))
            {
                continue;
            }

            lock (SubnetLock)
            {
                if (!SubnetsHandedOut.Add(subnet))
                {
                    continue;
                }
            }

            if ((await Shell.RunAsync(IpPath(), ["netns", "add", name])).Succeeded)
            {
                return new NetworkNamespace(name, subnet, prefix + (block + 1), prefix + (block + 2));
            }

            lock (SubnetLock)
            {
                SubnetsHandedOut.Remove(subnet);
            }
        }

        throw new InvalidOperationException("No free namespace name and 10.213.x.y/30 subnet found.");
    }

    private static bool Mentions(string ipOutput, string address) =>
        ipOutput.Split((char[])[' ', '\n', '\t', '/'], StringSplitOptions.RemoveEmptyEntries).Contains(address, StringComparer.Ordinal);

    private async Task SetUpAsync()
    {
        await IpAsync("link", "add", HostInterface, "type", "veth", "peer", "name", NamespaceInterface);
        _vethCreated = true;
        await IpAsync("link", "set", NamespaceInterface, "netns", Name);
        await IpAsync("addr", "add", HostAddress + "/30", "dev", HostInterface);
        await IpAsync("link", "set", HostInterface, "up");
        await IpAsync("netns", "exec", Name, "ip", "addr", "add", NamespaceAddress + "/30", "dev", NamespaceInterface);
        await IpAsync("netns", "exec", Name, "ip", "link", "set", "lo", "up");
        await IpAsync("netns", "exec", Name, "ip", "link", "set", NamespaceInterface, "up");

        // Another test process may have picked the same /30 at the same moment: then both give it up and try again.
        var owners = (await Shell.RunAsync(IpPath(), ["-4", "-o", "addr", "show", "to", Subnet])).EnsureSuccess().StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (owners.Length != 1)
        {
            throw new InvalidOperationException($"{Subnet} is on {owners.Length} host interfaces.");
        }
    }

    private static async Task IpAsync(params string[] args) => (await Shell.RunAsync(IpPath(), args)).EnsureSuccess();

    private static string IpPath() => Shell.Find("ip") ?? "ip";

    private static string? ProbeSupport()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces exist on Linux only.";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "creating network namespaces needs root (the tests run as an unprivileged user).";
        }

        if (Shell.Find("ip") is null)
        {
            return "the 'ip' command (iproute2) is missing: apt-get install -y iproute2.";
        }

        var name = "ow-probe-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(2)).ToLowerInvariant();
        var add = Shell.Run(IpPath(), ["netns", "add", name]);
        if (!add.Succeeded)
        {
            return $"'ip netns add' failed ({add.StandardError.Trim()}); a container needs CAP_SYS_ADMIN and CAP_NET_ADMIN.";
        }

        Shell.Run(IpPath(), ["netns", "del", name]);
        return null;
    }
}
