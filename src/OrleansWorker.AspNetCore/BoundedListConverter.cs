using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansWorker.AspNetCore;

/// <summary>
/// Reads a JSON array into a list of at most <paramref name="max"/> items, and stops at the first one past it: a body
/// of millions of tiny items (<c>[{},{},…]</c>, within the server's byte limit) must be refused after the limit, not
/// turned into millions of objects first.
/// </summary>
internal sealed class BoundedListConverter<T>(int max, string tooMany) : JsonConverter<List<T>>
{
    public override List<T>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException($"Expected a JSON array, found {reader.TokenType}.");
        }

        var items = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (items.Count == max)
            {
                throw new TooManyItemsException(tooMany);
            }

            items.Add(JsonSerializer.Deserialize<T>(ref reader, options)!);
        }

        return items;
    }

    public override void Write(Utf8JsonWriter writer, List<T> value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, (IEnumerable<T>)value, options);
}

/// <summary>A request body's array holds more items than the endpoint takes (the message says how many it takes).</summary>
internal sealed class TooManyItemsException(string message) : JsonException(message);
