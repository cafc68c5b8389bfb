using Microsoft.Playwright;

namespace OrleansWorker.Tests.Dashboard;

/// <summary>
/// One worker on a real port and one headless Debian chromium driven by Playwright (its own browser download cannot work
/// here, so the system's chromium is launched by path: <c>OW_CHROMIUM</c>, else <c>/usr/bin/chromium</c>).
/// </summary>
public class DashboardBrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public DashboardBrowserFixture()
        : this(new KestrelDashboardFactory())
    {
    }

    protected DashboardBrowserFixture(KestrelDashboardFactory worker) => Worker = worker;

    public KestrelDashboardFactory Worker { get; }

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("Not started.");

    /// <summary>Where the tests save their screenshots (printed by each test).</summary>
    public string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "TestResults", "dashboard-screenshots");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ScreenshotDirectory);
        var chromium = Environment.GetEnvironmentVariable("OW_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"{chromium} is missing: apt-get install -y chromium (bash scripts/test.sh installs it).");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh browser context (no cookies), 1280×800.</summary>
    public Task<IBrowserContext> NewContextAsync() =>
        Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 800 }, BaseURL = Worker.BaseUri.ToString() });

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await Worker.DisposeAsync();
    }
}

/// <summary>A worker served under the path base <c>/worker</c> (as behind a proxy) with a read-only dashboard.</summary>
public sealed class ProxiedReadOnlyBrowserFixture() : DashboardBrowserFixture(new KestrelDashboardFactory("/worker", readOnly: true));
