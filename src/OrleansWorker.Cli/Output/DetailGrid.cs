using Spectre.Console;
using Spectre.Console.Rendering;

namespace OrleansWorker.Cli.Output;

/// <summary>The two-column "name  value" grid of every <c>get</c> command: grey names, values as given.</summary>
internal sealed class DetailGrid
{
    private readonly Grid _grid = new Grid().AddColumn(new GridColumn().NoWrap().PadRight(2)).AddColumn();

    public void Row(string name, IRenderable value) => _grid.AddRow(new Markup($"[grey]{name}[/]"), value);

    /// <summary>A row of markup (escape what comes from the user).</summary>
    public void Markup(string name, string markup) => Row(name, new Markup(markup));

    /// <summary>A row of plain text; nothing when the value is empty.</summary>
    public void Text(string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            Row(name, new Text(value));
        }
    }

    public void WriteTo(IAnsiConsole console) => console.Write(_grid);
}
