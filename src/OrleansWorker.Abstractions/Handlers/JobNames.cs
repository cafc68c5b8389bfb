namespace OrleansWorker;

/// <summary>Names a job type: put it on a handler or on a payload type.</summary>
/// <param name="name">The job type, 1–200 characters of <c>[A-Za-z0-9._:-]</c>, e.g. <c>email.send</c>.</param>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class JobNameAttribute(string name) : Attribute
{
    /// <summary>The job type.</summary>
    public string Name { get; } = name;
}

/// <summary>
/// How a job type gets its name when it is registered or enqueued without one: <see cref="JobNameAttribute"/> on the
/// handler, else on the payload type, else the payload type's name (for a raw <see cref="IJobHandler"/>, the
/// handler's name without a trailing "Handler").
/// </summary>
public static class JobNames
{
    /// <summary>The default name of the jobs <typeparamref name="THandler"/> runs.</summary>
    public static string ForHandler<THandler>() => ForHandler(typeof(THandler));

    /// <summary>The default name of the jobs <paramref name="handlerType"/> runs.</summary>
    public static string ForHandler(Type handlerType)
    {
        ArgumentNullException.ThrowIfNull(handlerType);
        if (Attribute(handlerType) is { } named)
        {
            return named;
        }

        var payload = PayloadTypeOf(handlerType);
        if (payload is not null)
        {
            return ForPayload(payload);
        }

        var name = handlerType.Name;
        return name.Length > "Handler".Length && name.EndsWith("Handler", StringComparison.Ordinal) ? name[..^"Handler".Length] : name;
    }

    /// <summary>The default name of jobs whose payload is <typeparamref name="TPayload"/>.</summary>
    public static string ForPayload<TPayload>() => ForPayload(typeof(TPayload));

    /// <summary>The default name of jobs whose payload is <paramref name="payloadType"/>.</summary>
    public static string ForPayload(Type payloadType)
    {
        ArgumentNullException.ThrowIfNull(payloadType);
        return Attribute(payloadType) ?? payloadType.Name;
    }

    /// <summary>The payload type of a typed handler (<see cref="IJobHandler{TPayload}"/> or <see cref="IJobHandler{TPayload, TResult}"/>), or null.</summary>
    public static Type? PayloadTypeOf(Type handlerType)
    {
        ArgumentNullException.ThrowIfNull(handlerType);
        var typed = handlerType.GetInterfaces().Where(i => i.IsGenericType && (i.GetGenericTypeDefinition() == typeof(IJobHandler<>) || i.GetGenericTypeDefinition() == typeof(IJobHandler<,>))).ToList();
        return typed.Count == 1 ? typed[0].GetGenericArguments()[0] : null;
    }

    private static string? Attribute(Type type) =>
        (type.GetCustomAttributes(typeof(JobNameAttribute), inherit: false).FirstOrDefault() as JobNameAttribute)?.Name;
}
