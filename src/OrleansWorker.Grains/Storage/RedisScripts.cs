namespace OrleansWorker.Storage;

/// <summary>
/// The Lua scripts of <see cref="RedisJobStore"/>. Each is one atomic transition. Keys are built from the prefix in
/// ARGV[1], so the layout is for a single Redis (or one shard), not Redis Cluster.
/// </summary>
/// <remarks>
/// Layout, with P the prefix: <c>P:job:{id}</c> hash; <c>P:ready:{queue}</c> zset by (priority, sequence);
/// <c>P:scheduled</c> zset by due ms; <c>P:running</c> zset by lease deadline ms; <c>P:owner:{silo}</c> set of the
/// ids a silo runs; <c>P:owners</c>; <c>P:queues</c>; <c>P:idx:all</c> zset by created ms and <c>P:idx:{State}</c>
/// zsets by the ms the job entered the state (listing, dead-letter queue, retention); <c>P:seq</c>; channel <c>P:notify</c>.
/// </remarks>
internal static class RedisScripts
{
    private const string Prelude = """
        local P = ARGV[1]
        local BAND = 4000000000000
        local function setstate(id, key, old, new, now)
          if old then redis.call('ZREM', P .. ':idx:' .. old, id) end
          redis.call('ZADD', P .. ':idx:' .. new, now, id)
          redis.call('HSET', key, 'state', new, 'since', now)
        end
        local function makeready(id, key, old, now, q, pri, seq)
          if not q then
            local f = redis.call('HMGET', key, 'queue', 'pri', 'seq')
            q, pri, seq = f[1], f[2], f[3]
          end
          redis.call('ZADD', P .. ':ready:' .. q, (1000 - tonumber(pri)) * BAND + (tonumber(seq) % BAND), id)
          redis.call('SADD', P .. ':queues', q)
          redis.call('HSET', key, 'readyAt', now)
          setstate(id, key, old, 'Queued', now)
        end
        local function finish(id, key, old, new, now)
          redis.call('HSET', key, 'finished', now)
          setstate(id, key, old, new, now)
        end
        local function appendattempt(key, rec)
          local cur = redis.call('HGET', key, 'attempts')
          if (not cur) or cur == '' then cur = '[' .. rec .. ']' else cur = string.sub(cur, 1, -2) .. ',' .. rec .. ']' end
          redis.call('HSET', key, 'attempts', cur)
        end
        local function interrupt(id, owner, now, reason, count)
          local key = P .. ':job:' .. id
          local f = redis.call('HMGET', key, 'state', 'owner', 'attempt', 'maxAtt', 'started', 'cancel')
          if f[1] ~= 'Running' or (owner and f[2] ~= owner) then return 0 end
          redis.call('SREM', P .. ':owner:' .. f[2], id)
          redis.call('ZREM', P .. ':running', id)
          appendattempt(key, '{"n":' .. f[3] .. ',"s":' .. (f[5] or now) .. ',"e":' .. now .. ',"silo":' .. cjson.encode(f[2]) ..
            ',"o":"Interrupted","et":"AttemptInterrupted","em":' .. cjson.encode(reason) .. '}')
          redis.call('HSET', key, 'errT', 'AttemptInterrupted', 'errM', reason)
          redis.call('HDEL', key, 'owner', 'claim')
          local attempt = tonumber(f[3])
          if count == '0' then
            attempt = attempt - 1
            redis.call('HSET', key, 'attempt', attempt)
          end
          if f[6] == '1' then finish(id, key, 'Running', 'Cancelled', now)
          elseif attempt >= tonumber(f[4]) then finish(id, key, 'Running', 'DeadLettered', now)
          else makeready(id, key, 'Running', now) end
          return 1
        end

        """;

    /// <summary>ARGV: P, now, n, then per job: id, type, queue, pri, payload, maxAtt, tmo, runAt|'', created, tp, notAfter|''.</summary>
    public const string Enqueue = Prelude + """
        local now = ARGV[2]
        local n = tonumber(ARGV[3])
        local base = redis.call('INCRBY', P .. ':seq', n) - n
        local clock = redis.call('TIME')
        local clockMs = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
        local out = {}
        local notify = false
        for i = 0, n - 1 do
          local b = 4 + i * 11
          local id = ARGV[b]
          local key = P .. ':job:' .. id
          local st = redis.call('HGET', key, 'state')
          if ARGV[b + 10] ~= '' and clockMs > tonumber(ARGV[b + 10]) then
            out[#out + 1] = 'Expired'
            out[#out + 1] = 0
          elseif st then
            out[#out + 1] = st
            out[#out + 1] = 0
          else
            local seq = base + i + 1
            redis.call('HSET', key, 'id', id, 'type', ARGV[b + 1], 'queue', ARGV[b + 2], 'pri', ARGV[b + 3], 'seq', seq,
              'payload', ARGV[b + 4], 'maxAtt', ARGV[b + 5], 'tmo', ARGV[b + 6], 'created', ARGV[b + 8], 'tp', ARGV[b + 9], 'attempt', 0)
            redis.call('ZADD', P .. ':idx:all', ARGV[b + 8], id)
            if ARGV[b + 7] ~= '' then
              redis.call('HSET', key, 'runAt', ARGV[b + 7])
              redis.call('ZADD', P .. ':scheduled', ARGV[b + 7], id)
              setstate(id, key, nil, 'Scheduled', now)
              out[#out + 1] = 'Scheduled'
            else
              makeready(id, key, nil, now, ARGV[b + 2], ARGV[b + 3], seq)
              notify = true
              out[#out + 1] = 'Queued'
            end
            out[#out + 1] = 1
          end
        end
        if notify then redis.call('PUBLISH', P .. ':notify', '1') end
        return out
        """;

    /// <summary>ARGV: P, owner, max, now, leaseUntil, rotation, nq, queues… Returns 11 fields per claimed job.</summary>
    public const string Claim = Prelude + """
        local owner, max, now, lease, rot, nq = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
        local queues
        if nq == 0 then queues = redis.call('SMEMBERS', P .. ':queues')
        else
          queues = {}
          for i = 1, nq do queues[i] = ARGV[7 + i] end
        end
        local out = {}
        local got = 0
        local count = #queues
        for k = 0, count - 1 do
          if got >= max then break end
          local q = queues[((k + rot) % count) + 1]
          local popped = redis.call('ZPOPMIN', P .. ':ready:' .. q, max - got)
          for j = 1, #popped, 2 do
            local id = popped[j]
            local key = P .. ':job:' .. id
            local f = redis.call('HMGET', key, 'state', 'type', 'payload', 'attempt', 'maxAtt', 'tmo', 'readyAt', 'tp', 'pri', 'progress')
            if f[1] == 'Queued' then
              local att = tonumber(f[4]) + 1
              local token = redis.call('INCR', P .. ':claims')
              redis.call('HSET', key, 'attempt', att, 'owner', owner, 'started', now, 'claim', token)
              if f[10] then redis.call('HDEL', key, 'progress', 'progMsg') end
              setstate(id, key, 'Queued', 'Running', now)
              redis.call('ZADD', P .. ':running', lease, id)
              redis.call('SADD', P .. ':owner:' .. owner, id)
              out[#out + 1] = id
              out[#out + 1] = f[2]
              out[#out + 1] = q
              out[#out + 1] = f[3]
              out[#out + 1] = att
              out[#out + 1] = f[5]
              out[#out + 1] = f[6]
              out[#out + 1] = f[7]
              out[#out + 1] = f[8]
              out[#out + 1] = f[9]
              out[#out + 1] = token
              got = got + 1
            end
          end
        end
        if got > 0 then redis.call('SADD', P .. ':owners', owner) end
        return out
        """;

    /// <summary>ARGV: P, n, then per completion: id, attempt, owner, outcome, result, errT, errM, ended, retryAt, attemptJson, claimToken.</summary>
    public const string Complete = Prelude + """
        local n = tonumber(ARGV[2])
        local out = {}
        for i = 0, n - 1 do
          local b = 3 + i * 11
          local id, attempt, owner, outcome = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
          local now = ARGV[b + 7]
          local key = P .. ':job:' .. id
          local f = redis.call('HMGET', key, 'state', 'owner', 'attempt', 'maxAtt', 'cancel', 'claim')
          if f[1] ~= 'Running' or f[2] ~= owner or f[3] ~= attempt or f[6] ~= ARGV[b + 10] then
            out[#out + 1] = 0
          else
            redis.call('SREM', P .. ':owner:' .. owner, id)
            redis.call('ZREM', P .. ':running', id)
            redis.call('HDEL', key, 'owner', 'claim')
            if outcome ~= 'Interrupted' then
              -- A claim handed back unstarted (or cut short by shutdown) is not an attempt of the job's.
              appendattempt(key, ARGV[b + 9])
              if ARGV[b + 5] ~= '' then redis.call('HSET', key, 'errT', ARGV[b + 5], 'errM', ARGV[b + 6]) end
            end
            if f[5] == '1' then
              finish(id, key, 'Running', 'Cancelled', now)
              out[#out + 1] = 4
            elseif outcome == 'Interrupted' then
              redis.call('HSET', key, 'attempt', tonumber(attempt) - 1)
              makeready(id, key, 'Running', now)
              redis.call('PUBLISH', P .. ':notify', '1')
              out[#out + 1] = 5
            elseif outcome == 'Succeeded' then
              if ARGV[b + 4] ~= '' then redis.call('HSET', key, 'result', ARGV[b + 4]) end
              finish(id, key, 'Running', 'Succeeded', now)
              out[#out + 1] = 1
            elseif tonumber(attempt) < tonumber(f[4]) then
              redis.call('HSET', key, 'runAt', ARGV[b + 8])
              redis.call('ZADD', P .. ':scheduled', ARGV[b + 8], id)
              setstate(id, key, 'Running', 'Scheduled', now)
              out[#out + 1] = 2
            else
              finish(id, key, 'Running', 'DeadLettered', now)
              out[#out + 1] = 3
            end
          end
        end
        return out
        """;

    /// <summary>ARGV: P, owner, leaseUntil, ids… Returns the ids whose cancellation was requested.</summary>
    public const string Renew = Prelude + """
        local owner, lease = ARGV[2], ARGV[3]
        local out = {}
        for i = 4, #ARGV do
          local id = ARGV[i]
          local f = redis.call('HMGET', P .. ':job:' .. id, 'owner', 'cancel')
          if f[1] == owner then
            redis.call('ZADD', P .. ':running', 'XX', lease, id)
            if f[2] == '1' then out[#out + 1] = id end
          end
        end
        return out
        """;

    /// <summary>ARGV: P, owner, now, reason, countAttempt (1|0).</summary>
    public const string RequeueOwner = Prelude + """
        local owner = ARGV[2]
        local ids = redis.call('SMEMBERS', P .. ':owner:' .. owner)
        local n = 0
        for _, id in ipairs(ids) do n = n + interrupt(id, owner, ARGV[3], ARGV[4], ARGV[5]) end
        redis.call('DEL', P .. ':owner:' .. owner)
        redis.call('SREM', P .. ':owners', owner)
        if n > 0 then redis.call('PUBLISH', P .. ':notify', '1') end
        return n
        """;

    /// <summary>ARGV: P, now, reason.</summary>
    public const string RequeueExpired = Prelude + """
        local ids = redis.call('ZRANGEBYSCORE', P .. ':running', '-inf', ARGV[2], 'LIMIT', 0, 500)
        local n = 0
        for _, id in ipairs(ids) do
          local moved = interrupt(id, nil, ARGV[2], ARGV[3], '1')
          if moved == 0 then redis.call('ZREM', P .. ':running', id) end
          n = n + moved
        end
        if n > 0 then redis.call('PUBLISH', P .. ':notify', '1') end
        return n
        """;

    /// <summary>ARGV: P, now, max. Returns {promoted, next due ms or ''}.</summary>
    public const string Promote = Prelude + """
        local now = ARGV[2]
        local ids = redis.call('ZRANGEBYSCORE', P .. ':scheduled', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
        local n = 0
        for _, id in ipairs(ids) do
          redis.call('ZREM', P .. ':scheduled', id)
          local key = P .. ':job:' .. id
          if redis.call('HGET', key, 'state') == 'Scheduled' then
            makeready(id, key, 'Scheduled', now)
            n = n + 1
          end
        end
        if n > 0 then redis.call('PUBLISH', P .. ':notify', '1') end
        local nxt = redis.call('ZRANGE', P .. ':scheduled', 0, 0, 'WITHSCORES')
        return { n, nxt[2] or '' }
        """;

    /// <summary>ARGV: P, id, attempt, from, to.</summary>
    public const string Transfer = Prelude + """
        local key = P .. ':job:' .. ARGV[2]
        local f = redis.call('HMGET', key, 'state', 'attempt', 'owner')
        if f[1] ~= 'Running' or f[2] ~= ARGV[3] or f[3] ~= ARGV[4] then return 0 end
        redis.call('SREM', P .. ':owner:' .. ARGV[4], ARGV[2])
        redis.call('SADD', P .. ':owner:' .. ARGV[5], ARGV[2])
        redis.call('SADD', P .. ':owners', ARGV[5])
        redis.call('HSET', key, 'owner', ARGV[5])
        return 1
        """;

    /// <summary>ARGV: P, id, attempt, percent, message.</summary>
    public const string Progress = Prelude + """
        local key = P .. ':job:' .. ARGV[2]
        local f = redis.call('HMGET', key, 'state', 'attempt')
        if f[1] ~= 'Running' or f[2] ~= ARGV[3] then return 0 end
        redis.call('HSET', key, 'progress', ARGV[4], 'progMsg', ARGV[5])
        return 1
        """;

    /// <summary>ARGV: P, id, now. Returns {status, state}.</summary>
    public const string Cancel = Prelude + """
        local id, now = ARGV[2], ARGV[3]
        local key = P .. ':job:' .. id
        local f = redis.call('HMGET', key, 'state', 'queue')
        if not f[1] then return { 'NotFound', '' } end
        if f[1] == 'Queued' then
          redis.call('ZREM', P .. ':ready:' .. f[2], id)
          finish(id, key, 'Queued', 'Cancelled', now)
        elseif f[1] == 'Scheduled' then
          redis.call('ZREM', P .. ':scheduled', id)
          finish(id, key, 'Scheduled', 'Cancelled', now)
        elseif f[1] == 'Running' then
          redis.call('HSET', key, 'cancel', '1')
        else
          return { 'Conflict', f[1] }
        end
        return { 'Ok', f[1] }
        """;

    /// <summary>ARGV: P, id, now. Returns {status, state}.</summary>
    public const string Requeue = Prelude + """
        local id, now = ARGV[2], ARGV[3]
        local key = P .. ':job:' .. id
        local st = redis.call('HGET', key, 'state')
        if not st then return { 'NotFound', '' } end
        if st ~= 'DeadLettered' and st ~= 'Cancelled' then return { 'Conflict', st } end
        redis.call('HSET', key, 'attempt', 0)
        redis.call('HDEL', key, 'cancel', 'finished')
        makeready(id, key, st, now)
        redis.call('PUBLISH', P .. ':notify', '1')
        return { 'Ok', st }
        """;

    /// <summary>ARGV: P, id. Returns {status, state}.</summary>
    public const string Delete = Prelude + """
        local id = ARGV[2]
        local key = P .. ':job:' .. id
        local st = redis.call('HGET', key, 'state')
        if not st then return { 'NotFound', '' } end
        if st ~= 'Succeeded' and st ~= 'DeadLettered' and st ~= 'Cancelled' then return { 'Conflict', st } end
        redis.call('DEL', key)
        redis.call('ZREM', P .. ':idx:' .. st, id)
        redis.call('ZREM', P .. ':idx:all', id)
        return { 'Ok', st }
        """;

    /// <summary>ARGV: P, max, then (state, cutoff ms) × 3.</summary>
    public const string Purge = Prelude + """
        local max = tonumber(ARGV[2])
        local n = 0
        for s = 0, 2 do
          local st, cutoff = ARGV[3 + s * 2], ARGV[4 + s * 2]
          local ids = redis.call('ZRANGEBYSCORE', P .. ':idx:' .. st, '-inf', cutoff, 'LIMIT', 0, max - n)
          for _, id in ipairs(ids) do
            redis.call('DEL', P .. ':job:' .. id)
            redis.call('ZREM', P .. ':idx:' .. st, id)
            redis.call('ZREM', P .. ':idx:all', id)
            n = n + 1
          end
          if n >= max then break end
        end
        return n
        """;

    /// <summary>
    /// ARGV: P, index, maxScore ('+inf' or the cursor's score), cursorId or '', limit, budget, queue or '', type or ''.
    /// Newest first; returns {ids…, nextCursor or ''}.
    /// </summary>
    public const string List = Prelude + """
        local index, maxScore, cursorId = P .. ':idx:' .. ARGV[2], ARGV[3], ARGV[4]
        local limit, budget, queue, jtype = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8]
        local maxNum = tonumber(maxScore)
        local out = {}
        local offset, scanned = 0, 0
        local lastS, lastM = nil, nil
        while scanned < budget do
          local batch = redis.call('ZRANGE', index, maxScore, '-inf', 'BYSCORE', 'REV', 'LIMIT', offset, 256, 'WITHSCORES')
          if #batch == 0 then
            out[#out + 1] = ''
            return out
          end
          for i = 1, #batch, 2 do
            local m, s = batch[i], batch[i + 1]
            offset = offset + 1
            scanned = scanned + 1
            if not (cursorId ~= '' and tonumber(s) == maxNum and m >= cursorId) then
              local ok = true
              if queue ~= '' or jtype ~= '' then
                local f = redis.call('HMGET', P .. ':job:' .. m, 'queue', 'type')
                ok = (queue == '' or f[1] == queue) and (jtype == '' or f[2] == jtype)
              end
              if ok then
                out[#out + 1] = m
                if #out == limit then
                  out[#out + 1] = s .. '~' .. m
                  return out
                end
              end
            end
            lastS, lastM = s, m
          end
        end
        out[#out + 1] = lastS .. '~' .. lastM
        return out
        """;
}
