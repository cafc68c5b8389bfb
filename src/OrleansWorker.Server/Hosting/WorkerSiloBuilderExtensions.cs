using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansWorker.Execution;
using OrleansWorker.Handlers;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;
using StackExchange.Redis;

namespace OrleansWorker.Hosting;

/// <summary>Wires the job engine into a silo.</summary>
public static class WorkerSiloBuilderExtensions
{
    /// <summary>
    /// Adds the job engine to the silo. Choose its store explicitly with <see cref="OrleansWorkerBuilder.UseRedisJobStore(string, int)"/>
    /// or <see cref="OrleansWorkerBuilder.UseEmbeddedJobStore"/>; clustering stays the host's choice. Safe to call twice.
    /// </summary>
    public static ISiloBuilder AddOrleansWorker(this ISiloBuilder builder, Action<OrleansWorkerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        var worker = services.Select(d => d.ImplementationInstance).OfType<OrleansWorkerBuilder>().FirstOrDefault();
        if (worker is null)
        {
            worker = new OrleansWorkerBuilder(services);
            services.AddSingleton(worker);
            AddEngine(services);
        }

        configure(worker);
        return builder;
    }

    private static readonly TimeSpan ActivationTimeoutCap = TimeSpan.FromSeconds(10);

    private static void AddEngine(IServiceCollection services)
    {
        services.AddOptions<WorkerOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkerOptions>, WorkerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();

        // Every attempt is a new grain id, so Orleans' directory cache (default 1,000,000 entries) would keep one entry
        // per attempt ever run: a few hundred MB after a million jobs. A small cache serves what runs now.
        services.Configure<GrainDirectoryOptions>(o => o.CacheSize = Math.Min(o.CacheSize, 10_000));

        // Orleans gave every new stateless-worker activation (each attempt was one before 0.4.1) a CancellationTokenSource
        // that fires after ActivationTimeout (30 s) and is never disposed, so its timer kept ~300 B alive for 30 s per
        // attempt: ~200,000 of them (60+ MB) at 6,500 jobs/s. Attempt grains are plain grains now (LocalSiloPlacement);
        // the cap stays, since an attempt grain activates with no I/O and 10 s bounds any such leftover to a third.
        services.Configure<GrainCollectionOptions>(o => o.ActivationTimeout = o.ActivationTimeout < ActivationTimeoutCap ? o.ActivationTimeout : ActivationTimeoutCap);

        // Placing an attempt or job-manager grain must not ask a remote directory partition (which may be cut off).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Orleans.Runtime.GrainDirectory.IGrainDirectoryResolver, LocalOnlyGrainDirectory>());
        services.AddPlacementDirector<LocalSiloPlacement, LocalSiloPlacementDirector>();

        services.TryAddSingleton(sp =>
        {
            var worker = sp.GetRequiredService<OrleansWorkerBuilder>();
            var backend = worker.CreateBackend(sp);
            var store = new JobStore(backend, sp.GetRequiredService<IOptions<WorkerOptions>>().Value.KeyPrefix, worker.Shards(sp));
            JobLog.StoreOpened(sp.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansWorker.Store"), backend.Description.Engine, backend.Description.Location, backend.Description.Durability);
            return store;
        });
        services.TryAddSingleton<AttemptTracker>();
        services.TryAddSingleton(sp => new JobInstruments(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetRequiredService<AttemptTracker>()));
        services.TryAddSingleton<JobEngine>();
        services.TryAddSingleton<AttemptRunner>();
        services.TryAddSingleton<JobHandlerRegistry>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkerOptions>, JobRegistrationValidator>());
        services.TryAddSingleton<RecurringJobs>();
        services.TryAddSingleton<JobDispatcher>();
        services.TryAddSingleton(sp => new JobStoreHealth(sp.GetRequiredService<JobStore>(), sp.GetRequiredService<JobDispatcher>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ILifecycleParticipant<ISiloLifecycle>, JobDispatcher>(sp => sp.GetRequiredService<JobDispatcher>()));
    }

    /// <summary>The connection settings every Redis connection of the worker uses: fail fast, never give up reconnecting.</summary>
    public static ConfigurationOptions RedisOptions(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 5000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 5000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 5000);

        // Socket I/O on the .NET thread pool rather than StackExchange.Redis' own 10 dedicated threads: on a few cores the
        // dedicated pool's hand-offs and lock contention cost more CPU than the work (measured with dotnet-trace).
        options.SocketManager = SocketManager.ThreadPool;
        return options;
    }
}

/// <summary>Configures the job engine of a silo: its store, its options and its handlers.</summary>
public sealed class OrleansWorkerBuilder
{
    private string? _store;
    private Func<IServiceProvider, IKvBackend>? _backend;
    private Func<IServiceProvider, int> _shards = _ => 1;

    internal OrleansWorkerBuilder(IServiceCollection services) => Services = services;

    /// <summary>The silo's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The store chosen so far ("redis", "embedded"), or null.</summary>
    public string? Store => _store;

    /// <summary>Binds <see cref="WorkerOptions"/> (and the store's options) from a configuration section (usually <c>Worker</c>).</summary>
    public OrleansWorkerBuilder BindConfiguration(IConfiguration workerSection)
    {
        Services.AddOptions<WorkerOptions>().Bind(workerSection);
        Services.AddOptions<EmbeddedJobStoreOptions>().Bind(workerSection.GetSection("Embedded"));
        Services.AddOptions<RedisJobStoreOptions>().Bind(workerSection.GetSection("Redis"));
        return this;
    }

    /// <summary>Changes <see cref="WorkerOptions"/> in code.</summary>
    public OrleansWorkerBuilder Configure(Action<WorkerOptions> configure)
    {
        Services.Configure(configure);
        return this;
    }

    /// <summary>Keeps jobs in Redis (a single server or a Redis Cluster): durable as the server is configured, shared by every silo.</summary>
    public OrleansWorkerBuilder UseRedisJobStore(string connectionString, int shards = 1) =>
        UseRedisJobStore(o =>
        {
            o.ConnectionString = connectionString;
            o.Shards = shards;
        });

    /// <summary>Keeps jobs in Redis, with options (also bound from <c>Worker:Redis</c> by <see cref="BindConfiguration"/>).</summary>
    public OrleansWorkerBuilder UseRedisJobStore(Action<RedisJobStoreOptions>? configure = null)
    {
        if (configure is not null)
        {
            Services.Configure(configure);
        }

        if (!Choose("redis"))
        {
            return this;
        }

        Services.AddOptions<RedisJobStoreOptions>().ValidateOnStart();

        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisJobStoreOptions>, RedisJobStoreOptionsValidator>());
        Services.TryAddSingleton<IConnectionMultiplexer>(sp =>
            ConnectionMultiplexer.Connect(WorkerSiloBuilderExtensions.RedisOptions(sp.GetRequiredService<IOptions<RedisJobStoreOptions>>().Value.ConnectionString!)));
        _backend = sp => new RedisKvBackend(sp.GetRequiredService<IConnectionMultiplexer>(), $"{{{sp.GetRequiredService<IOptions<WorkerOptions>>().Value.KeyPrefix}}}:n");
        _shards = sp => sp.GetRequiredService<IOptions<RedisJobStoreOptions>>().Value.Shards;
        return this;
    }

    /// <summary>
    /// Keeps jobs in an embedded database (SQLite, write-ahead log) in a local directory: durable, nothing to install,
    /// one process at a time. For a single silo: other silos cannot share it.
    /// </summary>
    public OrleansWorkerBuilder UseEmbeddedJobStore(Action<EmbeddedJobStoreOptions>? configure = null)
    {
        if (configure is not null)
        {
            Services.Configure(configure);
        }

        if (!Choose("embedded"))
        {
            return this;
        }

        Services.AddOptions<EmbeddedJobStoreOptions>().ValidateOnStart();

        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmbeddedJobStoreOptions>, EmbeddedJobStoreOptionsValidator>());
        _backend = sp =>
        {
            var o = sp.GetRequiredService<IOptions<EmbeddedJobStoreOptions>>().Value;
            return new SqliteKvBackend(o.DataDirectory, o.Durability, o.PageCacheBytes, sp.GetRequiredService<TimeProvider>());
        };
        _shards = _ => 1;
        return this;
    }

    /// <summary>
    /// Registers <typeparamref name="THandler"/> (an <see cref="IJobHandler{TPayload}"/>, <see cref="IJobHandler{TPayload, TResult}"/>
    /// or <see cref="IJobHandler"/>) as the handler of jobs of type <paramref name="name"/> — by default its
    /// <see cref="JobNameAttribute"/>, its payload type's, or its payload type's name (<see cref="JobNames"/>). Nothing is
    /// constructed now: one handler is resolved per attempt, in a scope of its own. Two handlers for one name fail the start.
    /// </summary>
    public OrleansWorkerBuilder AddJob<THandler>(string? name = null)
        where THandler : class
    {
        var registration = JobRegistration.For(typeof(THandler), name);
        Services.TryAddTransient<THandler>();
        if (!Services.Any(d => d.ImplementationInstance is JobRegistration r && r.Name == registration.Name && r.HandlerType == registration.HandlerType))
        {
            Services.AddSingleton(registration);
        }

        return this;
    }

    /// <summary>
    /// Defines a recurring job in code: created at start if absent, updated if its definition changed (an operator's
    /// pause is kept). The cron, time zone and dates are checked now; the job's type when the silo starts.
    /// </summary>
    public OrleansWorkerBuilder AddRecurringJob(ScheduleDefinition schedule)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var errors = ScheduleRules.Validate(schedule);
        if (errors.Count > 0)
        {
            throw new ArgumentException($"Recurring job '{schedule.Id}' is not valid: {string.Join(" ", errors)}", nameof(schedule));
        }

        var existing = Services.Select(d => d.ImplementationInstance).OfType<CodeSchedule>().FirstOrDefault(c => c.Definition.Id == schedule.Id);
        if (existing is not null && existing.Definition != schedule)
        {
            throw new ArgumentException($"Recurring job '{schedule.Id}' is defined twice, differently.", nameof(schedule));
        }

        if (existing is null)
        {
            Services.AddSingleton(new CodeSchedule(schedule));
        }

        return this;
    }

    /// <summary>Defines a recurring job of type <paramref name="jobType"/> in code (see <see cref="AddRecurringJob(ScheduleDefinition)"/>).</summary>
    /// <param name="id">The schedule's id; its jobs' ids are <c>{id}::{tick}</c>.</param>
    /// <param name="cron">5 fields (minute hour day month weekday), or 6 with seconds first.</param>
    /// <param name="jobType">The job type each tick submits.</param>
    /// <param name="payloadJson">The payload of each tick's job (JSON), or null.</param>
    /// <param name="timeZone">IANA time zone the cron is read in.</param>
    public OrleansWorkerBuilder AddRecurringJob(string id, string cron, string jobType, string? payloadJson = null, string timeZone = "UTC") =>
        AddRecurringJob(new ScheduleDefinition { Id = id, Cron = cron, TimeZone = timeZone, Job = new JobRequest(jobType, payloadJson) });

    /// <summary>Defines a recurring job run by <typeparamref name="THandler"/> with <paramref name="payload"/> (serialized with <see cref="JobContext.JsonOptions"/>).</summary>
    public OrleansWorkerBuilder AddRecurringJob<THandler>(string id, string cron, object? payload = null, string timeZone = "UTC")
        where THandler : class =>
        AddRecurringJob(id, cron, JobRegistration.For(typeof(THandler), null).Name,
            payload is null ? null : System.Text.Json.JsonSerializer.Serialize(payload, JobContext.JsonOptions), timeZone);

    /// <summary>Registers the built-in handlers <c>noop</c>, <c>echo</c> (result = payload), <c>sleep</c> (<c>{"ms": n}</c>) and <c>fail</c> (<c>{"times": n}</c>).</summary>
    public OrleansWorkerBuilder AddBuiltInHandlers() =>
        AddJob<NoopHandler>("noop").AddJob<EchoHandler>("echo").AddJob<SleepHandler>("sleep").AddJob<FailHandler>("fail");

    /// <summary>For tests: a backend made by the caller.</summary>
    internal OrleansWorkerBuilder UseBackend(Func<IServiceProvider, IKvBackend> backend, string name = "custom")
    {
        _ = Choose(name);
        _backend = backend;
        _shards = _ => 1;
        return this;
    }

    internal IKvBackend CreateBackend(IServiceProvider services) =>
        _backend?.Invoke(services) ?? throw new InvalidOperationException(
            "OrleansWorker has no job store: call UseRedisJobStore(...) or UseEmbeddedJobStore(...) in AddOrleansWorker.");

    internal int Shards(IServiceProvider services) => _shards(services);

    /// <summary>Chooses the store; false when it was chosen already (a second call changes nothing).</summary>
    private bool Choose(string store)
    {
        if (_store == store)
        {
            return false;
        }

        if (_store is not null)
        {
            throw new InvalidOperationException($"OrleansWorker already uses the {_store} job store; a silo has one store (asked for {store} too).");
        }

        _store = store;
        return true;
    }
}

/// <summary>A recurring job defined in code (<see cref="OrleansWorkerBuilder.AddRecurringJob(ScheduleDefinition)"/>).</summary>
internal sealed record CodeSchedule(ScheduleDefinition Definition);
