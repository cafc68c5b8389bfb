using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Options;
using OrleansWorker.Execution;
using OrleansWorker.Hosting;

namespace OrleansWorker.Handlers;

/// <summary>
/// One handler registered under one job type, with the invoker that adapts it (typed payload and result) to the
/// engine's JSON. Made at registration time without constructing the handler.
/// </summary>
internal sealed record JobRegistration(string Name, Type HandlerType, JobInvoker Invoker)
{
    /// <summary>A registration for <paramref name="handlerType"/>, which must implement exactly one handler interface.</summary>
    public static JobRegistration For(Type handlerType, string? name)
    {
        var interfaces = handlerType.GetInterfaces()
            .Where(i => i == typeof(IJobHandler) || (i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(IJobHandler<>) || i.GetGenericTypeDefinition() == typeof(IJobHandler<,>))))
            .ToList();
        if (interfaces.Count != 1 || handlerType.IsAbstract)
        {
            throw new ArgumentException(
                $"{handlerType} must be a concrete class implementing exactly one of IJobHandler, IJobHandler<TPayload> or IJobHandler<TPayload, TResult> (it implements {interfaces.Count}).",
                nameof(handlerType));
        }

        var jobName = name ?? JobNames.ForHandler(handlerType);
        if (!JobValidator.IsValidName(jobName))
        {
            throw new ArgumentException($"The job type '{jobName}' of {handlerType} must be 1–200 characters of [A-Za-z0-9._:-], not dots alone.", nameof(name));
        }

        var handler = interfaces[0];
        JobInvoker invoker = handler == typeof(IJobHandler)
            ? new RawInvoker()
            : (JobInvoker)Activator.CreateInstance(
                (handler.GetGenericTypeDefinition() == typeof(IJobHandler<>) ? typeof(TypedInvoker<>) : typeof(TypedInvoker<,>)).MakeGenericType(handler.GetGenericArguments()))!;
        return new JobRegistration(jobName, handlerType, invoker);
    }
}

/// <summary>The handler types registered on this silo, by job type. Constructs no handler.</summary>
internal sealed class JobHandlerRegistry
{
    private readonly Dictionary<string, JobRegistration> _byName = new(StringComparer.Ordinal);

    public JobHandlerRegistry(IEnumerable<JobRegistration> registrations)
    {
        foreach (var registration in registrations)
        {
            // Duplicates are refused at start by JobRegistrationValidator; the first one wins here.
            _byName.TryAdd(registration.Name, registration);
        }

        Types = _byName.Keys.Order(StringComparer.OrdinalIgnoreCase).ToList();
    }

    /// <summary>The registered job types, sorted.</summary>
    public IReadOnlyList<string> Types { get; private set; } = [];

    /// <summary>Whether a handler runs jobs of <paramref name="type"/>.</summary>
    public bool Contains(string type) => _byName.ContainsKey(type);

    public JobRegistration? Find(string type) => _byName.GetValueOrDefault(type);
}

/// <summary>Fails the start when two different handlers claim one job type, naming both.</summary>
internal sealed class JobRegistrationValidator(IEnumerable<JobRegistration> registrations) : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var clashes = registrations.DistinctBy(r => (r.Name, r.HandlerType)).GroupBy(r => r.Name, StringComparer.Ordinal).Where(g => g.Count() > 1)
            .Select(g => $"Job type '{g.Key}' has {g.Count()} handlers: {string.Join(" and ", g.Select(r => r.HandlerType.FullName))}. Register each job type once (AddJob<THandler>(\"name\") names it).")
            .ToList();
        return clashes.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(clashes);
    }
}

/// <summary>Calls a handler with the job's payload and turns its result into JSON.</summary>
internal abstract class JobInvoker
{
    public abstract Task<string?> InvokeAsync(object handler, JobContext context, CancellationToken cancellationToken);
}

internal sealed class RawInvoker : JobInvoker
{
    public override Task<string?> InvokeAsync(object handler, JobContext context, CancellationToken cancellationToken) =>
        ((IJobHandler)handler).ExecuteAsync(context, cancellationToken);
}

internal sealed class TypedInvoker<TPayload> : JobInvoker
{
    public override async Task<string?> InvokeAsync(object handler, JobContext context, CancellationToken cancellationToken)
    {
        await ((IJobHandler<TPayload>)handler).ExecuteAsync(Payloads.Read<TPayload>(context), context, cancellationToken);
        return null;
    }
}

internal sealed class TypedInvoker<TPayload, TResult> : JobInvoker
{
    private static readonly JsonTypeInfo<TResult> ResultInfo = (JsonTypeInfo<TResult>)JobContext.JsonOptions.GetTypeInfo(typeof(TResult));

    public override async Task<string?> InvokeAsync(object handler, JobContext context, CancellationToken cancellationToken)
    {
        var result = await ((IJobHandler<TPayload, TResult>)handler).ExecuteAsync(Payloads.Read<TPayload>(context), context, cancellationToken);
        return JsonSerializer.Serialize(result, ResultInfo);
    }
}

/// <summary>Deserialises payloads; a payload of the wrong shape is a <see cref="JobPayloadException"/> (not retried).</summary>
internal static class Payloads
{
    public static T Read<T>(JobContext context)
    {
        T? value;
        try
        {
            value = JsonSerializer.Deserialize<T>(context.Payload ?? "null", JobContext.JsonOptions);
        }
        catch (JsonException ex)
        {
            var path = string.IsNullOrEmpty(ex.Path) ? "$" : ex.Path;
            throw new JobPayloadException($"The payload does not fit {Describe(typeof(T))} at JSON path {path}: {ex.Message}", ex);
        }
        catch (NotSupportedException ex)
        {
            throw new JobPayloadException($"The payload cannot be read as {Describe(typeof(T))}: {ex.Message}", ex);
        }

        if (value is null && default(T) is null && Nullable.GetUnderlyingType(typeof(T)) is null)
        {
            throw new JobPayloadException($"The job has no payload; its handler expects {Describe(typeof(T))} (JSON path $).");
        }

        return value!;
    }

    private static string Describe(Type type) => type.FullName ?? type.Name;
}

/// <summary>The job's payload does not deserialise into its handler's payload type: retrying cannot help.</summary>
internal sealed class JobPayloadException : Exception
{
    public JobPayloadException()
    {
    }

    public JobPayloadException(string message)
        : base(message)
    {
    }

    public JobPayloadException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
