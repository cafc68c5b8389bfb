using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>One span as received over OTLP/HTTP (protobuf), with its resource's service name.</summary>
public sealed record ReceivedSpan(
    string Service,
    string Scope,
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Name,
    int Kind,
    int StatusCode,
    IReadOnlyDictionary<string, object> Attributes,
    IReadOnlyList<string> Events);

/// <summary>
/// An OTLP/HTTP trace receiver on loopback: accepts <c>POST /v1/traces</c> in protobuf and decodes the wire format
/// itself (no in-memory exporter standing in for the wire).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly Task _loop;

    public OtlpReceiver()
    {
        Port = RedisServer.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>The value for <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    public IReadOnlyList<ReceivedSpan> Spans => _spans.ToList();

    /// <summary>Environment for a process that exports here quickly.</summary>
    public Dictionary<string, string> Environment(string serviceName) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = Endpoint,
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_SERVICE_NAME"] = serviceName,
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
    };

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (HttpListenerException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            if (context.Request.Url?.AbsolutePath == "/v1/traces")
            {
                foreach (var span in Decode(body.ToArray()))
                {
                    _spans.Enqueue(span);
                }
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    /// <summary>Decodes an <c>ExportTraceServiceRequest</c>.</summary>
    public static IEnumerable<ReceivedSpan> Decode(byte[] request)
    {
        foreach (var (field, resourceSpans) in Fields(request))
        {
            if (field != 1)
            {
                continue;
            }

            var service = "";
            foreach (var (f, value) in Fields((byte[])resourceSpans))
            {
                if (f == 1)
                {
                    var attributes = Attributes((byte[])value, 1);
                    service = attributes.TryGetValue("service.name", out var name) ? (string)name : "";
                }
            }

            foreach (var (f, scopeSpans) in Fields((byte[])resourceSpans))
            {
                if (f != 2)
                {
                    continue;
                }

                var scope = "";
                foreach (var (sf, value) in Fields((byte[])scopeSpans))
                {
                    if (sf == 1)
                    {
                        scope = Fields((byte[])value).Where(x => x.Field == 1).Select(x => Encoding.UTF8.GetString((byte[])x.Value)).FirstOrDefault() ?? "";
                    }
                    else if (sf == 2)
                    {
                        yield return Span(service, scope, (byte[])value);
                    }
                }
            }
        }
    }

    private static ReceivedSpan Span(string service, string scope, byte[] data)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        int kind = 0, status = 0;
        var attributes = new Dictionary<string, object>();
        var events = new List<string>();
        foreach (var (field, value) in Fields(data))
        {
            switch (field)
            {
                case 1: traceId = Convert.ToHexStringLower((byte[])value); break;
                case 2: spanId = Convert.ToHexStringLower((byte[])value); break;
                case 4: parent = Convert.ToHexStringLower((byte[])value); break;
                case 5: name = Encoding.UTF8.GetString((byte[])value); break;
                case 6: kind = (int)(ulong)value; break;
                case 9:
                    foreach (var (k, v) in Attributes(data, 9))
                    {
                        attributes[k] = v;
                    }

                    break;
                case 11:
                    events.Add(Fields((byte[])value).Where(x => x.Field == 2).Select(x => Encoding.UTF8.GetString((byte[])x.Value)).FirstOrDefault() ?? "");
                    break;
                case 15:
                    status = Fields((byte[])value).Where(x => x.Field == 3).Select(x => (int)(ulong)x.Value).FirstOrDefault();
                    break;
                default:
                    break;
            }
        }

        return new ReceivedSpan(service, scope, traceId, spanId, parent, name, kind, status, attributes, events);
    }

    /// <summary>The KeyValue messages in field <paramref name="field"/> of <paramref name="message"/>.</summary>
    private static Dictionary<string, object> Attributes(byte[] message, int field)
    {
        var result = new Dictionary<string, object>();
        foreach (var (f, kv) in Fields(message))
        {
            if (f != field)
            {
                continue;
            }

            string? key = null;
            object? val = null;
            foreach (var (kf, kvalue) in Fields((byte[])kv))
            {
                if (kf == 1)
                {
                    key = Encoding.UTF8.GetString((byte[])kvalue);
                }
                else if (kf == 2)
                {
                    foreach (var (af, avalue) in Fields((byte[])kvalue))
                    {
                        val = af switch
                        {
                            1 => Encoding.UTF8.GetString((byte[])avalue),
                            2 => (ulong)avalue != 0,
                            3 => (long)(ulong)avalue,
                            4 => BitConverter.Int64BitsToDouble((long)(ulong)avalue),
                            _ => avalue,
                        };
                    }
                }
            }

            if (key is not null && val is not null)
            {
                result[key] = val;
            }
        }

        return result;
    }

    /// <summary>The fields of a protobuf message: varints and fixed numbers as ulong, length-delimited as bytes.</summary>
    private static IEnumerable<(int Field, object Value)> Fields(byte[] data)
    {
        var pos = 0;
        while (pos < data.Length)
        {
            var tag = Varint(data, ref pos);
            var field = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0:
                    yield return (field, Varint(data, ref pos));
                    break;
                case 1:
                    yield return (field, BitConverter.ToUInt64(data, pos));
                    pos += 8;
                    break;
                case 2:
                    var length = (int)Varint(data, ref pos);
                    yield return (field, data[pos..(pos + length)]);
                    pos += length;
                    break;
                case 5:
                    yield return (field, (ulong)BitConverter.ToUInt32(data, pos));
                    pos += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {tag & 7}.");
            }
        }
    }

    private static ulong Varint(byte[] data, ref int pos)
    {
        ulong result = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[pos++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
    }
}
