using System.Buffers;
using System.Text;
using System.Text.Json;

namespace OrleansWorker;

/// <summary>What the job API takes and gives as JSON text: payloads, results and schedule templates.</summary>
public static class JsonText
{
    /// <summary>
    /// Whether <paramref name="text"/> is one JSON value whose every string and property name decodes to valid UTF-16.
    /// A parser that only checks the syntax lets <c>"\ud800"</c> (an escaped lone surrogate) through: such a value is
    /// stored, and then no JSON writer can write it back.
    /// </summary>
    public static bool IsValid(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var length = Encoding.UTF8.GetMaxByteCount(text.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var reader = new Utf8JsonReader(rented.AsSpan(0, Encoding.UTF8.GetBytes(text, rented)), isFinalBlock: true, state: default);
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    _ = reader.GetString(); // unescapes: throws on an escape that is no valid UTF-16
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
