// Listing 1,000 services through the API while the reconciler resyncs: p50, p99 and max of
// GET /v1/envs/local/services, and the event loop's longest block in `berth up` meanwhile.
// Goals: p99 at most 50 ms in each of RUNS runs, and no request slower than 100 ms.
//
// Seeds a fresh data dir with SERVICES (default 1000) copies of examples/hello deployed through
// the engine (the real steps against the real local runtime), each with 0 replicas: every
// service has its compute, route, DNS record and health check in the runtime and its records in
// the state (service, revision, operation, inventory), as after real deploys, but no process
// (1,000 node processes would not fit on a laptop). Then starts `berth up` (runtime, API,
// reconciler, resync every 5 s), lets it settle, and then, RUNS (default 3) times, sends sequential
// GETs of the list with the admin token (each read to the end) for at least SECONDS (default 12 s,
// so that every run spans two resyncs of every service) and at least REQUESTS (default 200).
// Baseline, from the same process in the same run: GET /healthz, one after every list request
// (what any request costs on this machine right now). The longest block of `berth up`'s event loop
// during each run comes from its own /metrics (prom-client's monitorEventLoopDelay, 10 ms
// resolution, reset at every scrape). Loopback only; everything it starts is stopped.
//   npm run bench:api
//   SERVICES=1000 RUNS=3 SECONDS=12 BENCH_DATA_DIR=/tmp/keep npm run bench:api   (reuses a seeded dir)
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAverage, seedServices, settle, startUp, stopRuntime } from './support/control-plane.mjs';

const SERVICES = Number(process.env.SERVICES ?? 1000);
const REQUESTS = Number(process.env.REQUESTS ?? 200);
const RUNS = Number(process.env.RUNS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 12);
const GOAL_P99_MS = 50;
const GOAL_MAX_MS = 100;

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

async function list(api, token) {
  const started = performance.now();
  const response = await fetch(`${api}/v1/envs/local/services`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await response.text();
  const ms = performance.now() - started;
  if (response.status !== 200) throw new Error(`GET services: ${response.status} ${body.slice(0, 500)}`);
  return { ms, body };
}

async function healthz(api) {
  const started = performance.now();
  const response = await fetch(`${api}/healthz`);
  await response.text();
  return performance.now() - started;
}

/** The longest event loop delay of `berth up` since the previous scrape (prom-client resets it). */
async function loopMaxMs(api, token) {
  const response = await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  const match = /^berth_process_nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match ? Number(match[1]) * 1000 : NaN;
}

async function main(dataDir) {
  await seedServices(dataDir, SERVICES);
  const up = await startUp(dataDir);
  const { token } = up;
  try {
    // Warm up (first snapshot, JIT), then let the reconciler's first pass over every service end:
    // until no event was recorded for 3 s (at most 60 s).
    for (let i = 0; i < 10; i++) await list(up.api, token);
    await settle(up);
    const { body } = await list(up.api, token);
    const statuses = JSON.parse(body);
    if (statuses.length !== SERVICES) throw new Error(`listed ${statuses.length} services, not ${SERVICES}`);
    const health = {};
    for (const status of statuses)
      health[`${status.health}/${status.sync}`] = (health[`${status.health}/${status.sync}`] ?? 0) + 1;

    console.log(
      `GET /v1/envs/local/services, ${SERVICES} services (0 replicas each; ${Object.entries(health)
        .map(([state, count]) => `${count} ${state}`)
        .join(', ')}), ${(body.length / 1024).toFixed(0)} KiB per response; reconciler resync every 5 s`,
    );
    console.log(
      `each run: sequential requests for >= ${SECONDS} s and >= ${REQUESTS} requests; baseline: GET /healthz after each`,
    );
    const fmt = (v) => v.toFixed(1).padStart(7);
    console.log(
      `run  requests  list p50     p99     max   healthz p50     p99     max  loop max   load (1/5/15 min)`,
    );
    let met = true;
    for (let run = 1; run <= RUNS; run++) {
      await loopMaxMs(up.api, token); // resets the maximum
      const times = [];
      const floor = [];
      const until = Date.now() + SECONDS * 1000;
      while (times.length < REQUESTS || Date.now() < until) {
        times.push((await list(up.api, token)).ms);
        floor.push(await healthz(up.api));
      }
      const loopMax = await loopMaxMs(up.api, token);
      const p99 = percentile(times, 99);
      const max = Math.max(...times);
      met &&= p99 <= GOAL_P99_MS && max <= GOAL_MAX_MS;
      console.log(
        `${String(run).padStart(3)}  ${String(times.length).padStart(8)}  ${fmt(percentile(times, 50))} ${fmt(p99)} ${fmt(max)}` +
          `       ${fmt(percentile(floor, 50))} ${fmt(percentile(floor, 99))} ${fmt(Math.max(...floor))}  ${fmt(loopMax)}   ${loadAverage()}`,
      );
    }
    console.log(
      `goal: p99 <= ${GOAL_P99_MS} ms and max <= ${GOAL_MAX_MS} ms in each of ${RUNS} runs: ${met ? 'met' : 'NOT met'}`,
    );
  } finally {
    await up.stop();
  }
}

const kept = process.env.BENCH_DATA_DIR;
if (kept && !existsSync(kept)) mkdirSync(kept, { recursive: true });
const dataDir = kept ?? mkdtempSync(join(tmpdir(), 'berth-bench-api-'));
try {
  await main(dataDir);
} finally {
  stopRuntime(dataDir);
  if (!kept) rmSync(dataDir, { recursive: true, force: true });
}
