using Microsoft.Extensions.DependencyInjection;

namespace OrleansWorker.Handlers;

/// <summary>The handler types registered on this silo, by job type.</summary>
public sealed class JobHandlerRegistry
{
    private readonly Dictionary<string, Type> _handlers;

    /// <summary>Builds the registry from the registrations made with <c>AddJobHandler</c>.</summary>
    public JobHandlerRegistry(IEnumerable<JobHandlerRegistration> registrations, IServiceProvider services)
    {
        _handlers = new Dictionary<string, Type>(StringComparer.Ordinal);
        using var scope = services.CreateScope();
        foreach (var handlerType in registrations.Select(r => r.HandlerType).Distinct())
        {
            var name = ((IJobHandler)scope.ServiceProvider.GetRequiredService(handlerType)).Name;
            if (_handlers.TryGetValue(name, out var existing))
            {
                throw new InvalidOperationException($"Job type '{name}' has two handlers: {existing} and {handlerType}.");
            }

            _handlers[name] = handlerType;
        }
    }

    /// <summary>The registered job types.</summary>
    public IReadOnlyCollection<string> Types => _handlers.Keys;

    /// <summary>Whether a handler runs jobs of <paramref name="type"/>.</summary>
    public bool Contains(string type) => _handlers.ContainsKey(type);

    internal IJobHandler? Resolve(IServiceProvider services, string type) =>
        _handlers.TryGetValue(type, out var handlerType) ? (IJobHandler)services.GetRequiredService(handlerType) : null;
}

/// <summary>One handler registration, made by <c>AddJobHandler</c>.</summary>
/// <param name="HandlerType">A class implementing <see cref="IJobHandler"/>.</param>
public sealed record JobHandlerRegistration(Type HandlerType);
