using System.CommandLine;
using OrleansWorker.Cli.Api;
using OrleansWorker.Cli.Commands.Jobs;
using OrleansWorker.Cli.Hosting;
using OrleansWorker.Cli.Output;
using Spectre.Console;

namespace OrleansWorker.Cli.Commands.Queues;

/// <summary><c>ow queues list|get|set|pause|resume</c>: the <c>/queues</c> endpoints.</summary>
internal static class QueueCommands
{
    public static Command Create() => new("queues", "Queues: jobs by state, pause and resume, concurrency and rate limits")
    {
        List(), Get(), QueueSetCommand.Create(), Pause(), Resume(),
    };

    /// <summary>The <c>&lt;name&gt;</c> argument of the commands that act on one queue.</summary>
    public static Argument<string> Name() => new Argument<string>("name") { Description = "The queue's name" }.MustName("queue");

    private static Command List() => new Command("list", "List every queue: status, limits and jobs by state").Runs(async context =>
    {
        var queues = await context.Queues.ListAsync(context.Cancellation);
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, queues.Raw);
        }
        else
        {
            QueueRendering.WriteList(context.Terminal.Console, queues.Value);
        }

        return ExitCodes.Success;
    });

    private static Command Get()
    {
        var name = Name();
        return new Command("get", "Show a queue: status, limits and jobs by state") { name }.Runs(async context =>
        {
            var queue = await context.Queues.GetAsync(context.Get(name)!, context.Cancellation);
            Write(context, queue, null);
            return ExitCodes.Success;
        });
    }

    private static Command Pause()
    {
        var name = Name();
        return new Command("pause", "Pause a queue: nothing new of it starts, running jobs finish (other settings are kept)") { name }.Runs(async context =>
        {
            var queue = await context.Queues.PauseAsync(context.Get(name)!, context.Cancellation);
            Write(context, queue, $"Paused queue [bold]{Markup.Escape(queue.Value.Name)}[/]: nothing new starts; running jobs finish.");
            return ExitCodes.Success;
        });
    }

    private static Command Resume()
    {
        var name = Name();
        return new Command("resume", "Resume a paused queue (other settings are kept)") { name }.Runs(async context =>
        {
            var queue = await context.Queues.ResumeAsync(context.Get(name)!, context.Cancellation);
            Write(context, queue, $"Resumed queue [bold]{Markup.Escape(queue.Value.Name)}[/].");
            return ExitCodes.Success;
        });
    }

    /// <summary>The server's queue under --json; else <paramref name="headline"/> (markup) and the queue's detail.</summary>
    internal static void Write(CliContext context, ApiResult<QueueView> queue, string? headline)
    {
        if (context.Json)
        {
            JsonOutput.Write(context.Terminal.Out, queue.Raw);
            return;
        }

        if (headline is not null)
        {
            context.Terminal.Console.MarkupLine(headline);
        }

        QueueRendering.WriteDetail(context.Terminal.Console, queue.Value);
    }
}
