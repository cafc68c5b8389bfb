using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Prometheus;

namespace OrleansWorker.ServiceDefaults;

/// <summary>Telemetry, metrics, health and HTTP conventions shared by the worker and the API.</summary>
public static class Extensions
{
    /// <summary>
    /// Trace sources exported: Orleans grain calls (the job grains' land in the runtime source; see
    /// <see cref="JobTraceSampler"/>) and the job attempts.
    /// </summary>
    public static readonly string[] TraceSources = ["Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime", "OrleansWorker.Jobs"];

    /// <summary>Listens on <paramref name="port"/> unless <c>--urls</c>, <c>ASPNETCORE_URLS</c> or <c>ASPNETCORE_HTTP_PORTS</c> say otherwise.</summary>
    public static WebApplicationBuilder UseDefaultPort(this WebApplicationBuilder builder, int port)
    {
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
        }

        return builder;
    }

    /// <summary>Adds logging, OpenTelemetry tracing, Prometheus metrics, health, problem details and OpenAPI.</summary>
    /// <param name="builder">The application builder.</param>
    /// <param name="defaultServiceName">The <c>service.name</c> unless <c>OTEL_SERVICE_NAME</c> says otherwise.</param>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, string defaultServiceName)
    {
        builder.AddConsoleLogDefaults();

        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } configured ? configured : defaultServiceName;
        var exporting = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) || !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
        if (exporting)
        {
            // Tracing costs an Activity per grain call and per attempt: only when the spans go somewhere. Without an
            // exporter the trace context still flows (ASP.NET Core's request activity → the job's traceparent → logs).
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(r => r.AddService(serviceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"))
                .WithTracing(t =>
                {
                    t.AddSource(TraceSources);
                    t.SetSampler(new JobTraceSampler());
                    t.AddAspNetCoreInstrumentation(o => o.Filter = http =>
                        !http.Request.Path.StartsWithSegments("/health") && !http.Request.Path.StartsWithSegments("/metrics") && !http.Request.Path.StartsWithSegments("/dashboard") && !http.Request.Path.StartsWithSegments("/ui"));
                    t.AddOtlpExporter();
                });
        }

        // prometheus-net's EventCounter bridge emits series that promtool rejects; the meters (ours and Orleans') and process metrics stay.
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressEventCounters = true, SuppressDebugMetrics = true });

        // Orleans' meters (and any others) through prometheus-net's adapter, started now so no measurement is missed;
        // the engine's own meter through PrometheusJobMetrics, which keeps its exact names and adds exemplars.
        // System.* meters are left out: their names (e.g. "…_assembly_count" gauges) fail promtool's lint, and
        // prometheus-net's own dotnet_* and process_* collectors already cover the runtime and the process.
        Metrics.ConfigureMeterAdapter(o => o.InstrumentFilterPredicate = i =>
            i.Meter.Name != PrometheusJobMetrics.MeterName && !i.Meter.Name.StartsWith("System.", StringComparison.Ordinal));
        builder.Services.AddHostedService<PrometheusJobMetrics>();

        // A request the framework cannot bind (a query value that is not a number, a body too large) is the caller's
        // mistake: thrown as BadHttpRequestException (not answered with an empty 400), mapped to its status by the
        // exception handler below, with its message (which names the parameter and the value) as the detail.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            if (context.Exception is BadHttpRequestException bad)
            {
                context.ProblemDetails.Detail = bad.Message;
            }
            else if (context.ProblemDetails is { Status: StatusCodes.Status415UnsupportedMediaType, Detail: null })
            {
                // Refused by routing (the endpoint accepts only JSON) before any handler could say so.
                context.ProblemDetails.Detail = $"The body's content type '{context.HttpContext.Request.ContentType}' is not supported here; send it as application/json.";
            }
        });
        builder.Services.Configure<JsonOptions>(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        builder.Services.AddOpenApi();
        builder.Services.TryAddSingleton<HealthReporter>();
        builder.Services.TryAddSingleton<IClusterClientAccessor, ManagementGrainClusterAccessor>();
        return builder;
    }

    /// <summary>Maps health, metrics and the OpenAPI document; adds problem+json for errors.</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,

            // A caller's bad request is not the server's error: no error log line or exception diagnostics for it.
            SuppressDiagnosticsCallback = context => context.Exception is BadHttpRequestException,
        });
        app.UseStatusCodePages();
        app.MapHealthEndpoints();
        app.MapMetrics("/metrics");
        app.MapOpenApi("/openapi/{documentName}.json");
        return app;
    }
}
