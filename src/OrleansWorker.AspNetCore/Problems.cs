using Microsoft.AspNetCore.Http;
using OrleansWorker.Client;

namespace OrleansWorker.AspNetCore;

/// <summary>RFC 7807 answers that say what was wrong.</summary>
internal static class Problems
{
    public static IResult Create(int status, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        Results.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);

    public static IResult BadRequest(string detail) => Create(StatusCodes.Status400BadRequest, "Invalid request", detail);

    public static IResult NotFound(string id) => Create(StatusCodes.Status404NotFound, "Job not found", $"No job has the id '{id}'.");

    public static IResult Conflict(string detail, JobState? state) =>
        Create(StatusCodes.Status409Conflict, "Conflict with the job's state", detail, new Dictionary<string, object?> { ["state"] = state?.ToString() });

    public static IResult Validation(IReadOnlyList<JobValidationError> errors)
    {
        var tooLarge = errors.Any(e => e.Code == "payload_too_large");
        var exists = errors.Any(e => e.Code is "batch_exists" or "job_exists");
        return Create(
            tooLarge ? StatusCodes.Status413PayloadTooLarge : exists ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
            tooLarge ? "Payload too large" : exists ? "Conflict" : "Invalid job request",
            string.Join(" ", errors.Select(e => e.Index >= 0 && (errors.Count > 1 || e.Index > 0) ? $"Item {e.Index}: {e.Message}" : e.Message)),
            new Dictionary<string, object?> { ["errors"] = errors.Select(e => new { index = e.Index, field = e.Field, code = e.Code, message = e.Message }).ToList() });
    }

    /// <summary>Maps the client's failures: invalid input to 400/413, an unreachable cluster or store to 503 with the reason.</summary>
    public static async Task<IResult> GuardAsync(Func<Task<IResult>> action)
    {
        try
        {
            return await action();
        }
        catch (JobValidationException ex)
        {
            return Validation(ex.Errors);
        }
        catch (JobServiceUnavailableException ex)
        {
            return Create(StatusCodes.Status503ServiceUnavailable, "Job service unavailable", ex.Message);
        }
        catch (FormatException ex)
        {
            return BadRequest(ex.Message);
        }
    }
}
