// BullMQ side of the OrleansWorker benchmark harness (phase `bullmq`, BullMqBenchmark.cs); also runs on its own:
//
//   node bench.mjs --port 6379 --n 20000 --mode bulk
//   node bench.mjs --host 127.0.0.1 --port 6379 --db 2 --n 20000 --mode single --concurrency 50 --queue bench-1
//
// One node process holds one BullMQ Queue (the producer) and one Worker (the consumer) with a no-op processor.
// Modes: `bulk`   = Queue.addBulk in chunks of 1,000 jobs, up to 4 chunks in flight (like POST /jobs/batch of 1,000, 4 in flight);
//        `single` = Queue.add one job at a time, 64 adds in flight (like the one-by-one phases).
// Before the timed run, --warmup jobs (default 1,000) go through the same queue and worker, so JIT, Lua script
// loading and connections are warm, as the other phases warm up before they measure.
// Timing starts right before the first add and stops when the worker has emitted `completed` for N jobs: BullMQ emits it
// after moveToCompleted (a Lua script) has stored the completion in Redis, so like the other phases a job counts once
// its success is stored. At the end Queue.getJobCounts() must show warmup + N completed jobs and nothing else.
//
// Output (stdout, one JSON object per line):
//   {"event":"start"}                   when timing starts (the harness starts its /proc CPU meters on it)
//   {"n":…,"mode":…,"seconds":…,"jobsPerSecond":…,"nodeCpuSeconds":…,…}   when the N-th job has completed
// With --hold, the process then waits until its stdin closes before it shuts down, so the harness can read this
// process's CPU time from /proc while it still exists. Exit code 0 on success, 1 on any mismatch or error.
//
// Options are BullMQ's defaults except the worker's concurrency, which is what makes one worker fast:
// * Completion storage is BullMQ's default (removeOnComplete / removeOnFail unset = false): every completed job keeps
//   its hash (`bull:<queue>:<id>`, with returnvalue and finishedOn) and its entry in the `bull:<queue>:completed`
//   sorted set, i.e. nothing is skipped; jobs are not removed after completion.
// * The events stream (`bull:<queue>:events`) is written on every state change and trimmed to ~10,000 entries (default).
// * Locks (lockDuration 30 s, renewed every 15 s) and the stalled-job check (every 30 s) stay on: no skipLockRenewal /
//   skipStalledCheck, which would make a crashed worker's jobs unrecoverable.
// * attempts = 1 (default), no backoff. Durability is Redis's: the harness's redis-server runs with appendonly yes,
//   appendfsync everysec, the same as for OrleansWorker and Hangfire.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '6379' },
    db: { type: 'string', default: '0' },
    n: { type: 'string', default: '20000' },
    mode: { type: 'string', default: 'bulk' },
    concurrency: { type: 'string', default: '50' },
    queue: { type: 'string' },
    warmup: { type: 'string', default: '1000' },
    hold: { type: 'boolean', default: false },
  },
  strict: true,
});

const n = Number.parseInt(args.n, 10);
const warmup = Number.parseInt(args.warmup, 10);
const concurrency = Number.parseInt(args.concurrency, 10);
const mode = args.mode;
const queueName = args.queue ?? `bench-${randomUUID()}`;
if (!(n > 0) || !(warmup >= 0) || !(concurrency > 0) || (mode !== 'bulk' && mode !== 'single')) {
  console.error('usage: node bench.mjs [--host H] [--port P] [--db D] --n N --mode bulk|single [--concurrency 50] [--queue NAME] [--warmup 1000] [--hold]');
  process.exit(2);
}

const BULK_CHUNK = 1000;
const BULK_IN_FLIGHT = 4;
const SINGLE_IN_FLIGHT = 64;
const READY_TIMEOUT_MS = 30_000;

// Connection options, not an ioredis instance: Queue and Worker each open their own connections (the worker a
// separate blocking one) and close them on close(). maxRetriesPerRequest: null is what BullMQ requires for workers.
const connection = { host: args.host, port: Number.parseInt(args.port, 10), db: Number.parseInt(args.db, 10), maxRetriesPerRequest: null };
const queue = new Queue(queueName, { connection });

let completed = 0;
let target = warmup;
let failed = 0;
let onTarget = () => {};
const worker = new Worker(queueName, async () => {}, { connection, concurrency });
worker.on('completed', () => {
  completed++;
  if (completed === target) {
    onTarget();
  }
});
worker.on('failed', (job, err) => {
  failed++;
  console.error(`job ${job?.id} failed: ${err?.message}`);
});
worker.on('error', err => console.error(`worker error: ${err?.message ?? err}`));
queue.on('error', err => console.error(`queue error: ${err?.message ?? err}`));

const untilTarget = () => new Promise(resolve => {
  onTarget = resolve;
  if (completed >= target) {
    resolve();
  }
});

// Runs `count` tasks with at most `inFlight` at once.
async function pool(count, inFlight, task) {
  let next = 0;
  const runner = async () => {
    while (next < count) {
      await task(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, runner));
}

async function submit(count, how) {
  if (how === 'bulk') {
    const chunks = Math.ceil(count / BULK_CHUNK);
    await pool(chunks, BULK_IN_FLIGHT, c => {
      const size = Math.min(BULK_CHUNK, count - (c * BULK_CHUNK));
      return queue.addBulk(Array.from({ length: size }, () => ({ name: 'noop', data: {} })));
    });
  } else {
    await pool(count, SINGLE_IN_FLIGHT, () => queue.add('noop', {}));
  }
}

let exitCode = 0;
try {
  // ioredis retries a refused connection forever; give up after READY_TIMEOUT_MS with a clear error instead.
  let readyTimer;
  await Promise.race([
    Promise.all([worker.waitUntilReady(), queue.waitUntilReady()]),
    new Promise((_, reject) => {
      readyTimer = setTimeout(() => reject(new Error(`no connection to redis ${args.host}:${args.port} within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(readyTimer));

  if (warmup > 0) {
    await submit(warmup, 'bulk');
    await untilTarget();
  }

  completed = 0;
  target = n;
  const done = untilTarget();
  console.log(JSON.stringify({ event: 'start' }));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await submit(n, mode);
  const submitSeconds = (performance.now() - t0) / 1000;
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const nodeCpuSeconds = (cpu.user + cpu.system) / 1e6;

  // Cross-check with what Redis holds: every job completed, none waiting, active, delayed or failed.
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed', 'prioritized');
  const ok = counts.completed === warmup + n && counts.failed === 0 && failed === 0 &&
    counts.waiting === 0 && counts.active === 0 && counts.delayed === 0 && counts.prioritized === 0;
  console.log(JSON.stringify({
    n,
    mode,
    seconds: Math.round(seconds * 1e4) / 1e4,
    jobsPerSecond: Math.round(n / seconds),
    nodeCpuSeconds: Math.round(nodeCpuSeconds * 1e4) / 1e4,
    submitSeconds: Math.round(submitSeconds * 1e4) / 1e4,
    concurrency,
    warmup,
    queue: queueName,
    jobCounts: counts,
    ok,
  }));
  if (!ok) {
    console.error(`job counts do not add up: expected ${warmup + n} completed and nothing else, got ${JSON.stringify(counts)} (${failed} failed events)`);
    exitCode = 1;
  }

  if (args.hold) {
    // Wait for the harness to close stdin (it reads this process's CPU time from /proc first).
    await new Promise(resolve => {
      process.stdin.on('end', resolve);
      process.stdin.on('close', resolve);
      process.stdin.resume();
    });
  }
} catch (err) {
  console.error(`bench failed: ${err?.stack ?? err}`);
  exitCode = 1;
} finally {
  await worker.close();
  await queue.close();
}

process.exitCode = exitCode;
