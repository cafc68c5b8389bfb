namespace OrleansWorker.Storage.Kv;

/// <summary>
/// The Lua scripts of <see cref="RedisKvBackend"/>: a generic interpreter of <see cref="KvUnit"/>s, its compact form for
/// the common shape of unit (an insert, an attempt's success), the claim, and the flow-control permits and windows.
/// None knows anything about jobs' rules: they apply what the engine decided, if its guards still hold.
/// </summary>
internal static class RedisLua
{
    /// <summary>
    /// Lua, defined at the top of the scripts that forget ended attempts: takes ARGV[first..last] (job ids) out of the run
    /// set <c>run</c>, except any whose job is Running under <c>owner</c>: that owner claimed it again since, or the
    /// attempt's outcome never landed; either way the run set is how recovery finds the job.
    /// </summary>
    private const string ForgetEnded = """
        local function forget(run, jp, owner, first, last)
          local gone = {}
          for i = first, last do
            local s = redis.call('HMGET', jp .. ARGV[i], 'state', 'owner')
            if not (s[1] == 'Running' and s[2] == owner) then gone[#gone + 1] = ARGV[i] end
          end
          if #gone > 0 then redis.call('SREM', run, unpack(gone)) end
        end
        """;

    /// <summary>
    /// KEYS: every key of the call (one slot). ARGV: unit count, then per unit: guard count, write count, the index of
    /// the key it pre-reads and how many fields (one HMGET for the guards and the history append of its main key),
    /// those fields, guards as (code, key index, a, b, pre-read index or 0), writes as (code, key index, arg count,
    /// args…). Write <c>hsa</c> is an HSET that also appends a JSON value to the array in a pre-read field.
    /// Returns (unit number, failed guard, value) for each unit that did not apply, nothing for those that did.
    /// </summary>
    public const string Apply = $$"""
        {{ForgetEnded}}
        local a = 2
        local clock = nil
        local out = {}
        local pre = nil
        local function field(k, x, r)
          if r > 0 then return pre[r] or '' end
          return redis.call('HGET', k, x) or ''
        end
        for u = 1, tonumber(ARGV[1]) do
          local ng, nw, rk, nr = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
          a = a + 4
          pre = nil
          if nr > 0 then
            pre = redis.call('HMGET', KEYS[rk], unpack(ARGV, a, a + nr - 1))
            a = a + nr
          end
          local fail, val = 0, ''
          for g = 1, ng do
            if fail == 0 then
              local c, k, x, y, r = ARGV[a], KEYS[tonumber(ARGV[a + 1])], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
              if c == 'eq' then
                local v = field(k, x, r)
                if v ~= y then fail, val = g, v end
              elseif c == 'ne' then
                local v = field(k, x, r)
                if v == y then fail, val = g, v end
              elseif c == 'nx' then
                if redis.call('EXISTS', k) == 1 then fail, val = g, (redis.call('HGET', k, x) or '') end
              elseif c == 'clk' then
                if not clock then
                  local t = redis.call('TIME')
                  clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
                end
                if clock > tonumber(x) then fail, val = g, tostring(clock) end
              elseif c == 'zle' then
                local s = redis.call('ZSCORE', k, x)
                if (not s) or tonumber(s) > tonumber(y) then fail, val = g, (s or '') end
              elseif c == 'zex' then
                if not redis.call('ZSCORE', k, x) then fail = g end
              elseif c == 'zno' then
                local s = redis.call('ZSCORE', k, x)
                if s then fail, val = g, s end
              elseif c == 'uq' then
                local holder = redis.call('HGET', k, x)
                local n1 = string.find(y, '\n', 1, true)
                local n2 = string.find(y, '\n', n1 + 1, true)
                if holder and not (n2 and string.sub(y, n2 + 1) == holder) then
                  local now = tonumber(string.sub(y, n1 + 1, (n2 or 0) - 1))
                  local f = redis.call('HMGET', string.sub(y, 1, n1 - 1) .. holder, 'state', 'fin', 'uniqFor')
                  if f[1] then
                    local done = f[1] == 'Succeeded' or f[1] == 'DeadLettered' or f[1] == 'Cancelled'
                    local ttl = tonumber(f[3] or '0') or 0
                    if (not done) or (f[2] and f[2] ~= '' and now - tonumber(f[2]) < ttl) then fail, val = g, holder .. '|' .. f[1] end
                  end
                end
              else
                return redis.error_reply('unknown guard ' .. tostring(c))
              end
            end
            a = a + 5
          end
          for w = 1, nw do
            local c, k, m = ARGV[a], KEYS[tonumber(ARGV[a + 1])], tonumber(ARGV[a + 2])
            a = a + 3
            if fail == 0 then
              if c == 'hset' then redis.call('HSET', k, unpack(ARGV, a, a + m - 1))
              elseif c == 'hsa' then
                local f, json, r = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
                local cur = field(k, f, r)
                if cur == '' then cur = '[' .. json .. ']' else cur = string.sub(cur, 1, -2) .. ',' .. json .. ']' end
                if m > 3 then
                  redis.call('HSET', k, f, cur, unpack(ARGV, a + 3, a + m - 1))
                else
                  redis.call('HSET', k, f, cur)
                end
              elseif c == 'hdel' then redis.call('HDEL', k, unpack(ARGV, a, a + m - 1))
              elseif c == 'hinc' then redis.call('HINCRBY', k, ARGV[a], ARGV[a + 1])
              elseif c == 'zadd' then redis.call('ZADD', k, ARGV[a], ARGV[a + 1])
              elseif c == 'zrem' then redis.call('ZREM', k, unpack(ARGV, a, a + m - 1))
              elseif c == 'sadd' then redis.call('SADD', k, unpack(ARGV, a, a + m - 1))
              elseif c == 'srem' then redis.call('SREM', k, unpack(ARGV, a, a + m - 1))
              elseif c == 'del' then redis.call('DEL', k)
              elseif c == 'pub' then redis.call('PUBLISH', ARGV[a], ARGV[a + 1])
              elseif c == 'srf' then forget(k, ARGV[a], ARGV[a + 1], a + 2, a + m - 1)
              else return redis.error_reply('unknown write ' .. tostring(c))
              end
            end
            a = a + m
          end
          if fail ~= 0 then
            out[#out + 1] = u
            out[#out + 1] = fail
            out[#out + 1] = val
          end
        end
        return out
        """;

    /// <summary>
    /// The compact form of a call whose units all have one shape (see <c>RecordShape</c>): one guarded hash, set whole
    /// with one HSET, then sorted-set adds and publishes. The same guard for every unit, named once per call: mode
    /// <c>n</c> (the hash is absent; fails 1 with field A), <c>tn</c> (the engine's clock is at most the unit's value,
    /// else fails 1 with the clock; then the hash is absent, else fails 2 with field A: a submission with a deadline),
    /// <c>e</c> (field A equals the unit's value; fails 1 with it) or <c>en</c> (that, and field B is not C; fails 2
    /// with it). It applies what <see cref="Apply"/> would, with a third of its arguments: Redis' cost per job is mostly
    /// per argument and per command. So the sorted-set adds of the units that apply are gathered per key and sent as one
    /// ZADD per key at the end (at most 2,000 members per ZADD, within Lua's <c>unpack</c> limit): no guard of this
    /// script reads a sorted set, so deferring them changes nothing a unit could see, and a member added twice keeps
    /// its last score, as before.
    /// KEYS: every key of the call (one slot). ARGV: unit count, mode, A, B, C, then per unit: the hash's key index
    /// (0: a publish, then channel and message), the guard's value (not for <c>n</c>), field count, fields and
    /// values, op count, ops as (key index, score, member) for ZADD or (0, channel, message) for PUBLISH.
    /// Returns (unit number, failed guard, value) for each unit that did not apply.
    /// </summary>
    public const string Records = """
        local n, mode, fa, fb, fc = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5]
        local a, out, clock = 6, {}, nil
        local adds, order = {}, {}
        for u = 1, n do
          local k = tonumber(ARGV[a])
          if k == 0 then
            redis.call('PUBLISH', ARGV[a + 1], ARGV[a + 2])
            a = a + 3
          else
            local key, fail, val = KEYS[k], 0, ''
            if mode == 'n' then
              if redis.call('EXISTS', key) == 1 then fail, val = 1, (redis.call('HGET', key, fa) or '') end
              a = a + 1
            elseif mode == 'tn' then
              if not clock then
                local t = redis.call('TIME')
                clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
              end
              if clock > tonumber(ARGV[a + 1]) then
                fail, val = 1, tostring(clock)
              elseif redis.call('EXISTS', key) == 1 then
                fail, val = 2, (redis.call('HGET', key, fa) or '')
              end
              a = a + 2
            else
              local want = ARGV[a + 1]
              if mode == 'e' then
                local v = redis.call('HGET', key, fa) or ''
                if v ~= want then fail, val = 1, v end
              else
                local cur = redis.call('HMGET', key, fa, fb)
                local v = cur[1] or ''
                if v ~= want then fail, val = 1, v elseif (cur[2] or '') == fc then fail, val = 2, fc end
              end
              a = a + 2
            end
            local nf = tonumber(ARGV[a])
            local no = tonumber(ARGV[a + nf + 1])
            if fail == 0 then
              redis.call('HSET', key, unpack(ARGV, a + 1, a + nf))
              local o = a + nf + 2
              for i = 1, no do
                local zk = tonumber(ARGV[o])
                if zk == 0 then
                  redis.call('PUBLISH', ARGV[o + 1], ARGV[o + 2])
                else
                  local t = adds[zk]
                  if not t then
                    t = {}
                    adds[zk] = t
                    order[#order + 1] = zk
                  end
                  t[#t + 1] = ARGV[o + 1]
                  t[#t + 1] = ARGV[o + 2]
                end
                o = o + 3
              end
            else
              out[#out + 1] = u
              out[#out + 1] = fail
              out[#out + 1] = val
            end
            a = a + nf + 2 + no * 3
          end
        end
        for _, zk in ipairs(order) do
          local t = adds[zk]
          for i = 1, #t, 4000 do redis.call('ZADD', KEYS[zk], unpack(t, i, math.min(i + 3999, #t))) end
        end
        return out
        """;

    /// <summary>
    /// KEYS: owners (zset of leases), the owner's run set, revoked owners (zset), paused queues (set), then one ready
    /// key per queue. ARGV: job key prefix, owner, now, lease, token base, max, queue count, (queue, max)…, field
    /// count, fields…, finished count, finished ids…, then 1 to write <c>since</c> with <c>started</c> (layouts 1 and
    /// 2) or 0 (layout 3: a running job's time is <c>started</c>). Returns -1 when the owner is revoked; else 0
    /// followed by (id, queue, token, attempt, fields…) per claimed job. A finished id whose job is Running under the
    /// owner stays in its run set (<see cref="ForgetEnded"/>, as write <c>srf</c> of <see cref="Apply"/>). The lease only ever moves forward: the
    /// claim's <c>now</c> was taken before its permits and shards, and a renewal may have landed since.
    /// </summary>
    public const string Claim = $$"""
        {{ForgetEnded}}
        local jp, owner, now, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
        local tok, max, nq = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
        if redis.call('ZSCORE', KEYS[3], owner) then return { -1 } end
        local fa = 8 + nq * 2
        local nf = tonumber(ARGV[fa])
        local fields = { 'state', 'att', 'prog' }
        for i = 1, nf do fields[3 + i] = ARGV[fa + i] end
        local xa = fa + nf + 1
        local nx = tonumber(ARGV[xa])
        if nx > 0 then forget(KEYS[2], jp, owner, xa + 1, xa + nx) end
        local ws = ARGV[xa + nx + 1] ~= '0'
        local out = { 0 }
        local ids = {}
        for i = 1, nq do
          if #ids >= max then break end
          local q, qmax = ARGV[6 + i * 2], tonumber(ARGV[7 + i * 2])
          if redis.call('SISMEMBER', KEYS[4], q) == 0 then
            local popped = redis.call('ZPOPMIN', KEYS[4 + i], math.min(qmax, max - #ids))
            for j = 1, #popped, 2 do
              local id = string.sub(popped[j], 17)
              local key = jp .. id
              local f = redis.call('HMGET', key, unpack(fields))
              if f[1] == 'Queued' then
                tok = tok + 1
                local ts = string.format('%.0f', tok)
                local att = tonumber(f[2] or '0') + 1
                if ws then
                  redis.call('HSET', key, 'state', 'Running', 'since', now, 'att', att, 'owner', owner, 'tok', ts, 'started', now)
                else
                  redis.call('HSET', key, 'state', 'Running', 'att', att, 'owner', owner, 'tok', ts, 'started', now)
                end
                if f[3] then redis.call('HDEL', key, 'prog', 'progMsg') end
                ids[#ids + 1] = id
                out[#out + 1] = id
                out[#out + 1] = q
                out[#out + 1] = ts
                out[#out + 1] = att
                for k = 1, nf do out[#out + 1] = f[3 + k] or '' end
              end
            end
          end
        end
        if #ids > 0 then
          redis.call('SADD', KEYS[2], unpack(ids))
          local held = redis.call('ZSCORE', KEYS[1], owner)
          if (not held) or tonumber(held) < tonumber(lease) then redis.call('ZADD', KEYS[1], lease, owner) end
        end
        return out
        """;

    /// <summary>
    /// KEYS: the permits hash. ARGV: holder, want, limit. Returns the permits granted. A holder's count below zero (a
    /// release that landed after a revoked owner's permits were forgotten) counts as zero, never as room for others.
    /// </summary>
    public const string AcquirePermits = """
        local held = 0
        for _, v in ipairs(redis.call('HVALS', KEYS[1])) do held = held + math.max(0, tonumber(v)) end
        local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - held)
        if grant <= 0 then return 0 end
        redis.call('HINCRBY', KEYS[1], ARGV[1], grant)
        return grant
        """;

    /// <summary>KEYS: the window zset. ARGV: member prefix, want, limit, now ms, period ms. Returns {granted, next ms}.</summary>
    public const string AcquireWindow = """
        local now, period = tonumber(ARGV[4]), tonumber(ARGV[5])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
        local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[1]))
        if grant <= 0 then
          local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
          return { 0, oldest[2] and (tonumber(oldest[2]) + period + 1) or now }
        end
        for i = 1, grant do redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. i) end
        redis.call('PEXPIRE', KEYS[1], period * 2)
        return { grant, now }
        """;
}
