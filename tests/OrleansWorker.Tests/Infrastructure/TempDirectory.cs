namespace OrleansWorker.Tests.Infrastructure;

/// <summary>Removing a test's temp folder.</summary>
public static class TempDirectory
{
    /// <summary>
    /// Deletes the folder and what it holds, best effort: a file still held open (a process that has not quite exited)
    /// is left to the system's temp cleanup rather than failing the test that made it.
    /// </summary>
    public static void Delete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
