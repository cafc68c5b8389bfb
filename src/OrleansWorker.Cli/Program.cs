using OrleansWorker.Cli;

return await OwApp.RunAsync(args);
