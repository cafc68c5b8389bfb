using OrleansWorker.Storage.Kv;

namespace OrleansWorker.Storage;

/// <summary>
/// Lists jobs from the index of their state, never by scanning every job. Order: <c>Queued</c> in run order (what
/// runs next first), <c>Scheduled</c> soonest due first, <c>Running</c> most recently started first, <c>Waiting</c>
/// newest first, finished states most recently finished first. Without a state, each of those in turn: running,
/// queued, scheduled, waiting, then every finished state together, most recently finished first (as BullMQ's
/// <c>getJobs</c> lists several types; since 0.4.2, which keeps no index of every job: it cost Redis ≈ 3 µs per job).
/// Keyset paging: the cursor is the sort key and member of the last item (and without a state, the part it was in).
/// Without a state, a job that changes state while a client pages may be listed in two parts, or in none until the
/// next listing (it moved to a part already read), as with BullMQ's <c>getJobs</c>; within one state (and for
/// finished jobs, whose order is their finish time) paging neither repeats nor skips a job that stays in it.
/// Filters that the index does not cover (type; queue where the index spans queues) are applied to what is read,
/// within a scan budget per page.
/// </summary>
internal sealed class JobListing(JobStore store, IKvBackend kv)
{
    private const int Chunk = 256;

    private static readonly JobState[] Running = [JobState.Running];

    /// <summary>The parts of a listing without a state, in order.</summary>
    private static readonly JobState[][] Parts = [Running, [JobState.Queued], [JobState.Scheduled], [JobState.Waiting], JobStore.FinishedStates];

    public async Task<JobPage> ListAsync(JobListQuery query)
    {
        if (query.State is { } state)
        {
            return await ListAsync(query, [state], ListCursor.Parse(query.Cursor));
        }

        var (part, cursor) = PartCursor.Parse(query.Cursor, Parts.Length);
        var items = new List<JobView>(query.Limit);
        for (; part < Parts.Length; part++, cursor = null)
        {
            var page = await ListAsync(query with { Limit = query.Limit - items.Count }, Parts[part], cursor);
            items.AddRange(page.Items);
            if (page.NextCursor is not null)
            {
                return new JobPage(items, PartCursor.Format(part, page.NextCursor));
            }

            if (items.Count == query.Limit)
            {
                return new JobPage(items, part + 1 < Parts.Length ? PartCursor.Format(part + 1, null) : null);
            }
        }

        return new JobPage(items, null);
    }

    private async Task<JobPage> ListAsync(JobListQuery query, JobState[] states, (double Score, string Member)? cursor)
    {
        if (states is [JobState.Running])
        {
            return await RunningAsync(query, cursor);
        }

        var keys = store.Keys;
        var queues = query.Queue is { } q ? [q] : await store.QueuesAsync();
        var sources = new List<(string Key, bool Descending, bool Prefixed)>();
        for (var s = 0; s < keys.Shards; s++)
        {
            foreach (var state in states)
            {
                switch (state)
                {
                    case JobState.Queued:
                        sources.AddRange(queues.Select(queue => (keys.Ready(s, queue), false, true)));
                        break;
                    case JobState.Scheduled:
                        sources.Add((keys.Scheduled(s), false, false));
                        break;
                    case JobState.Waiting:
                        sources.Add((keys.Waiting(s), true, false));
                        break;
                    default:
                        sources.AddRange(queues.Select(queue => (keys.Finished(s, state, queue), true, false)));
                        break;
                }
            }
        }

        var descending = sources.Count > 0 && sources[0].Descending;
        var comparer = Comparer<(double Score, string Member)>.Create((a, b) =>
        {
            var c = a.Score.CompareTo(b.Score);
            c = c != 0 ? c : string.CompareOrdinal(a.Member, b.Member);
            return descending ? -c : c;
        });

        var iterators = sources.Select(src => Iterate(src.Key, src.Descending, cursor).GetAsyncEnumerator()).ToList();
        try
        {
            var heap = new PriorityQueue<int, (double, string)>(comparer);
            for (var i = 0; i < iterators.Count; i++)
            {
                if (await iterators[i].MoveNextAsync())
                {
                    heap.Enqueue(i, (iterators[i].Current.Score, iterators[i].Current.Member));
                }
            }

            var budget = Math.Max(query.Limit * 20, 2000);
            var scanned = 0;
            var items = new List<JobView>(query.Limit);
            (double Score, string Member)? last = null;
            (double Score, string Member)? lastReturned = null;
            while (items.Count < query.Limit && scanned < budget && heap.Count > 0)
            {
                var candidates = new List<(string Id, double Score, string Member)>();
                var want = Math.Clamp(query.Limit - items.Count, 16, Chunk);
                while (candidates.Count < want && heap.TryDequeue(out var index, out var key))
                {
                    var member = key.Item2;
                    candidates.Add((sources[index].Prefixed ? member[16..] : member, key.Item1, member));
                    if (await iterators[index].MoveNextAsync())
                    {
                        heap.Enqueue(index, (iterators[index].Current.Score, iterators[index].Current.Member));
                    }
                }

                var views = await store.GetManyAsync(candidates.Select(c => c.Id).ToList());
                for (var i = 0; i < candidates.Count && items.Count < query.Limit; i++)
                {
                    scanned++;
                    last = (candidates[i].Score, candidates[i].Member);
                    if (views[i] is { } view && Matches(view, query, states))
                    {
                        items.Add(view);
                        lastReturned = last;
                    }
                }
            }

            string? next = null;
            if (items.Count == query.Limit && lastReturned is { } r)
            {
                next = ListCursor.Format(r.Score, r.Member);
            }
            else if (heap.Count > 0 && last is { } l)
            {
                // The scan budget ran out before the page filled: carry on from the last item looked at.
                next = ListCursor.Format(l.Score, l.Member);
            }

            return new JobPage(items, next);
        }
        finally
        {
            foreach (var iterator in iterators)
            {
                await iterator.DisposeAsync();
            }
        }
    }

    private async Task<JobPage> RunningAsync(JobListQuery query, (double Score, string Member)? cursor)
    {
        var running = await store.RunningAsync();
        var views = await store.GetManyAsync(running.Select(r => r.Id).ToList());
        var ordered = views.Where(v => v is not null && Matches(v, query, Running))
            .Select(v => (View: v!, Score: (double)(v!.StartedAt ?? v.CreatedAt).ToUnixTimeMilliseconds()))
            .OrderByDescending(x => x.Score).ThenByDescending(x => x.View.Id, StringComparer.Ordinal)
            .Where(x => cursor is not { } c || x.Score < c.Score || (x.Score == c.Score && string.CompareOrdinal(x.View.Id, c.Member) < 0))
            .Take(query.Limit + 1)
            .ToList();
        var page = ordered.Take(query.Limit).ToList();
        var next = ordered.Count > query.Limit ? ListCursor.Format(page[^1].Score, page[^1].View.Id) : null;
        return new JobPage(page.Select(x => x.View).ToList(), next);
    }

    private static bool Matches(JobView view, JobListQuery query, JobState[] states) =>
        states.Contains(view.State)
        && (query.Queue is null || view.Queue == query.Queue)
        && (query.Type is null || view.Type == query.Type);

    private async IAsyncEnumerable<KvScored> Iterate(string key, bool descending, (double Score, string Member)? after)
    {
        var bound = after?.Score ?? (descending ? double.PositiveInfinity : double.NegativeInfinity);
        var skip = 0;
        while (true)
        {
            var batch = kv.CreateReadBatch();
            var read = descending
                ? batch.RangeByScore(key, double.NegativeInfinity, bound, true, skip, Chunk)
                : batch.RangeByScore(key, bound, double.PositiveInfinity, false, skip, Chunk);
            await batch.ExecuteAsync();
            var chunk = await read;
            foreach (var e in chunk)
            {
                skip++;
                if (after is { } a && e.Score == a.Score && (descending ? string.CompareOrdinal(e.Member, a.Member) >= 0 : string.CompareOrdinal(e.Member, a.Member) <= 0))
                {
                    continue;
                }

                yield return e;
            }

            if (chunk.Length < Chunk)
            {
                yield break;
            }
        }
    }
}
