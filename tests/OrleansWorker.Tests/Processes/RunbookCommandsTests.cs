using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// The seed runbook's in-container commands (<c>docker compose exec worker &lt;cmd&gt;</c>) run as written in the image's
/// file layout (no Docker engine here): a network + mount namespace where <c>/usr/local/bin</c> is a tmpfs holding the
/// Dockerfile's busybox links (RUNBOOK_APPLETS), <c>/etc/hosts</c> and <c>/etc/resolv.conf</c> name <c>api</c> and
/// <c>tempo</c> like compose does (resolver 127.0.0.11, Docker's embedded DNS), an HTTP server answers <c>api:3000/health</c>,
/// a listener stands in for Tempo's OTLP HTTP port (405 on GET/HEAD, like Tempo), and each command runs as uid 1654
/// (<c>app</c>) with the image's PATH. Needs root (namespaces), like the other namespace tests.
/// </summary>
[Collection("processes")]
public sealed class RunbookCommandsTests(ITestOutputHelper output)
{
    private const string ApiAddress = "127.0.0.2";
    private const string TempoAddress = "127.0.0.3";
    private const string HealthJson = """{"status":"Healthy"}""";

    private static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OrleansWorker.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("Repository root not found.");
        }
    }

    /// <summary>The seed runbook (shared), else the copy committed next to this test (seed-worker-runbook.md).</summary>
    private static string SeedRunbook =>
        File.Exists("/work/shared/seed/worker-runbook.md") ? "/work/shared/seed/worker-runbook.md"
            : Path.Combine(RepoRoot, "tests", "OrleansWorker.Tests", "Processes", "seed-worker-runbook.md");

    /// <summary>The part of each <c>docker compose exec worker …</c> line that runs in the container (up to a pipe: the rest runs on the operator's machine).</summary>
    internal static IReadOnlyList<string> RunbookCommands() =>
        File.ReadLines(SeedRunbook)
            .Select(l => Regex.Match(l, @"^\s*docker compose exec worker\s+(.+?)\s*$"))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value.Split('|')[0].Trim())
            .Distinct()
            .ToList();

    private static string DockerfileArg(string dockerfile, string name) =>
        Regex.Match(File.ReadAllText(Path.Combine(RepoRoot, "docker", dockerfile)), $"ARG {name}=\"([^\"]*)\"").Groups[1].Value;

    private static string[] AptPackages(string dockerfile) =>
        Regex.Match(File.ReadAllText(Path.Combine(RepoRoot, "docker", dockerfile)), @"apt-get install -y --no-install-recommends ([a-z0-9. +-]*)")
            .Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Commands the aspnet:10.0-noble base already has (dash, coreutils), and the apt package providing the others.</summary>
    private static readonly string[] BaseImageCommands = ["/bin/sh", "sh", "env", "cat", "df"];
    private static readonly Dictionary<string, string> PackageCommands = new() { ["ping"] = "iputils-ping", ["curl"] = "curl" };

    [Fact]
    public void Every_runbook_command_is_provided_by_both_images()
    {
        var commands = RunbookCommands();
        Assert.NotEmpty(commands);
        foreach (var dockerfile in new[] { "worker.Dockerfile", "api.Dockerfile" })
        {
            var applets = DockerfileArg(dockerfile, "RUNBOOK_APPLETS").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var packages = AptPackages(dockerfile);
            Assert.Contains("busybox", packages);
            foreach (var binary in commands.Select(c => c.Split(' ')[0]).Distinct())
            {
                var provided = BaseImageCommands.Contains(binary) || applets.Contains(binary)
                    || (PackageCommands.TryGetValue(binary, out var pkg) && packages.Contains(pkg));
                Assert.True(provided, $"{dockerfile}: the runbook runs '{binary}' in the container, but the image has no such command.");
            }
        }
    }

    [Fact]
    public async Task Runbook_commands_run_in_the_image_layout_as_the_app_user()
    {
        Assert.True(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root", "Needs root (network and mount namespaces).");
        var commands = RunbookCommands();
        var applets = DockerfileArg("worker.Dockerfile", "RUNBOOK_APPLETS");
        var dir = Directory.CreateTempSubdirectory("ow-runbook-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "hosts"), $"127.0.0.1\tlocalhost\n{ApiAddress}\tapi\n{TempoAddress}\ttempo\n");
            File.WriteAllText(Path.Combine(dir, "resolv.conf"), "nameserver 127.0.0.11\noptions ndots:0\n");
            File.WriteAllText(Path.Combine(dir, "servers.py"), ServersPy);
            var cmds = commands.Append("wget -qO- http://tempo:4318/v1/traces --spider #tempo-down").Append("wget -qO- http://api:3001/health").ToList();
            for (var i = 0; i < cmds.Count; i++)
            {
                File.WriteAllText(Path.Combine(dir, $"cmd.{i}"), cmds[i]);
            }

            File.WriteAllText(Path.Combine(dir, "run.sh"), RunSh(dir, applets, cmds.Count, Shell.Run("sh", ["-c", "command -v python3"]).StandardOutput.Trim()));
            var result = await Shell.RunAsync("unshare", ["--net", "--mount", "--fork", "sh", Path.Combine(dir, "run.sh")], TimeSpan.FromSeconds(90));
            output.WriteLine(result.ToString());
            result.EnsureSuccess();

            var outcomes = cmds.Select((c, i) => (
                Command: c,
                Exit: int.Parse(File.ReadAllText(Path.Combine(dir, $"rc.{i}")).Trim()),
                Out: File.ReadAllText(Path.Combine(dir, $"out.{i}")))).ToList();
            foreach (var o in outcomes)
            {
                output.WriteLine($"RESULT `{o.Command}` -> exit {o.Exit}: {o.Out.Trim().Replace('\n', ' ')[..Math.Min(300, o.Out.Trim().Length)]}");
            }

            foreach (var o in outcomes)
            {
                var c = o.Command;
                if (c.EndsWith("#tempo-down"))
                {
                    Assert.NotEqual(0, o.Exit);
                    Assert.Contains("Connection refused", o.Out);
                }
                else if (c.StartsWith("wget") && c.Contains("--spider"))
                {
                    // Tempo reachable: its OTLP HTTP port answers GET/HEAD with 405; busybox wget reports it and exits 1.
                    Assert.Equal(1, o.Exit);
                    Assert.Contains("405 Method Not Allowed", o.Out);
                }
                else if (c.StartsWith("wget") && c.Contains(":3001"))
                {
                    Assert.NotEqual(0, o.Exit);
                    Assert.Contains("Connection refused", o.Out);
                }
                else if (c.StartsWith("wget"))
                {
                    Assert.Equal(0, o.Exit);
                    Assert.Contains(HealthJson, o.Out);
                }
                else if (c.StartsWith("nslookup"))
                {
                    Assert.Equal(0, o.Exit);
                    Assert.Contains(ApiAddress, o.Out);
                }
                else if (c.StartsWith("ping"))
                {
                    Assert.Equal(0, o.Exit);
                    Assert.Contains("3 received", o.Out);
                    Assert.Contains(c.EndsWith("api") ? ApiAddress : TempoAddress, o.Out);
                }
                else if (c.StartsWith("ps"))
                {
                    Assert.Equal(0, o.Exit);
                    Assert.Contains("PID", o.Out);
                    Assert.Contains("servers.py", o.Out);
                }
                else if (c == "cat /etc/hosts")
                {
                    Assert.Equal(0, o.Exit);
                    Assert.Contains("api", o.Out);
                }
                else if (c == "env")
                {
                    Assert.Equal(0, o.Exit);
                    Assert.Contains("PATH=/usr/local/bin:", o.Out);
                }
                else
                {
                    Assert.True(o.Exit == 0, $"`{c}` exited with {o.Exit}: {o.Out}");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Inside the namespaces: loopback up, compose-like name resolution, the image's /usr/local/bin, the servers, then each command as uid 1654.</summary>
    private static string RunSh(string dir, string applets, int count, string python) => $$"""
        set -eu
        D={{dir}}
        ip link set lo up
        mount --make-rprivate /
        mount --bind $D/hosts /etc/hosts
        mount --bind $D/resolv.conf /etc/resolv.conf
        {{python}} $D/servers.py $D &
        SERVERS=$!
        n=0; while [ ! -f $D/ready ]; do n=$((n+1)); [ $n -lt 300 ] || { echo "servers not ready"; exit 1; }; sleep 0.05; done
        mount -t tmpfs tmpfs /usr/local/bin
        for applet in {{applets}}; do ln -s /bin/busybox "/usr/local/bin/$applet"; done
        chmod 755 $D; chmod 644 $D/cmd.*
        i=0
        while [ $i -lt {{count}} ]; do
          cmd=$(cat $D/cmd.$i)
          [ "${cmd%#tempo-down}" = "$cmd" ] || { kill $SERVERS 2>/dev/null || true; wait $SERVERS 2>/dev/null || true; cmd=${cmd%#tempo-down}; }
          set +e
          cd / && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/app HOSTNAME=worker \
            setpriv --reuid=1654 --regid=1654 --clear-groups --inh-caps=-all sh -c "$cmd" </dev/null >$D/out.$i 2>&1
          echo $? > $D/rc.$i
          set -e
          i=$((i+1))
        done
        kill $SERVERS 2>/dev/null || true
        """;

    /// <summary>api:3000 (/health JSON), tempo:4318 (405 on GET/HEAD, like Tempo's OTLP HTTP receiver), and a DNS responder on 127.0.0.11:53.</summary>
    private const string ServersPy = """
        import os, socket, struct, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        NAMES = {b"api": "127.0.0.2", b"tempo": "127.0.0.3"}
        class Api(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b'{"status":"Healthy"}' if self.path == "/health" else b""
                self.send_response(200 if body else 404); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
            def log_message(self, *a): pass
        class Tempo(BaseHTTPRequestHandler):
            def _405(self):
                self.send_response(405); self.send_header("Content-Length", "0"); self.end_headers()
            do_GET = do_HEAD = _405
            def log_message(self, *a): pass
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.11", 53))
        def dns():
            while True:
                q, addr = s.recvfrom(512)
                i, labels = 12, []
                while q[i]: labels.append(q[i+1:i+1+q[i]]); i += 1 + q[i]
                qtype = struct.unpack(">H", q[i+1:i+3])[0]; end = i + 5
                ip = NAMES.get(labels[0].lower()) if labels else None
                ans = qtype == 1 and ip is not None
                flags = 0x8180 if ip else 0x8183
                hdr = q[:2] + struct.pack(">HHHHH", flags, 1, 1 if ans else 0, 0, 0)
                rr = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)) if ans else b""
                s.sendto(hdr + q[12:end] + rr, addr)
        servers = [ThreadingHTTPServer(("127.0.0.2", 3000), Api), ThreadingHTTPServer(("127.0.0.3", 4318), Tempo)]
        threading.Thread(target=dns, daemon=True).start()
        for srv in servers: threading.Thread(target=srv.serve_forever, daemon=True).start()
        open(os.path.join(sys.argv[1], "ready"), "w").close()
        threading.Event().wait()
        """;
}
