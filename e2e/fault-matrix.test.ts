/**
 * The fault matrix: every resource kind x {deleted, modified, duplicated} x {service idle, in the
 * middle of a deploy, in the middle of a delete}, changed behind berth's back through the runtime
 * console while a reconciler watches. Every cell must converge with no human step; the matrix is
 * printed with each cell's result and time.
 *
 * The reconciler (and setup deploys) run in this process against the real runtime and the real
 * SQLite file; the deploys and deletes caught in the middle are real CLI processes held in a step
 * for a moment (BERTH_TEST_PAUSE_IN_STEP + BERTH_TEST_PAUSE_MS), so the fault lands mid-operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { spawnCli } from '../test/helpers/cli.js';
import { HELLO_DIR, startTestRuntime, waitFor, type TestRuntime } from '../test/helpers/runtime.js';
import { helloSpec, openBerth, writeSpecFile, type Berth } from '../test/helpers/berth.js';
import { startReconciler, type Reconciler } from '../src/reconciler/index.js';
import type { RuntimeKind, RuntimeService } from '../src/runtime/types.js';
import type { OperationRecord, ResourceKind } from '../src/state/store.js';

const KINDS: ResourceKind[] = ['compute', 'route', 'dns', 'healthcheck'];
const FAULTS = ['deleted', 'modified', 'duplicated'] as const;
const STATES = ['idle', 'mid-deploy', 'mid-delete'] as const;
type Fault = (typeof FAULTS)[number];
type State = (typeof STATES)[number];
const RUNTIME_KIND: Record<ResourceKind, RuntimeKind> = {
  compute: 'services',
  route: 'routes',
  dns: 'dns',
  healthcheck: 'healthchecks',
};
const PAUSE_MS = 1200;
const CONVERGE_TIMEOUT_MS = 40_000;

interface Cell {
  state: State;
  kind: ResourceKind;
  fault: Fault;
  ok: boolean;
  ms: number;
  detectMs: number | null;
  /** The revision live at the end (mid-deploy: the new one, or the old one after a failed deploy). */
  revision: number | null;
  note: string;
}

const results: Cell[] = [];

function serviceName(state: State, kind: ResourceKind, fault: Fault): string {
  return `${state.replace('mid-', 'm')}-${kind.slice(0, 5)}-${fault.slice(0, 3)}`;
}

describe('fault matrix: every kind x fault x state converges with no human step', () => {
  let runtime: TestRuntime;
  let berth: Berth;
  let reconciler: Reconciler;
  let intruder: RuntimeService;

  beforeAll(async () => {
    runtime = await startTestRuntime();
    berth = openBerth(runtime);
    // Someone else's service (untagged): a modified or duplicated route sends traffic here.
    intruder = await runtime.client.create('services', {
      name: 'intruder',
      command: ['node', 'server.js'],
      cwd: HELLO_DIR,
      env: { GREETING: 'intruder' },
      replicas: 1,
      health: {
        path: '/healthz',
        intervalMs: 200,
        timeoutMs: 500,
        healthyThreshold: 1,
        unhealthyThreshold: 2,
      },
      tags: { owner: 'someone-else' },
    });
    reconciler = startReconciler({
      store: berth.store,
      provider: berth.provider,
      env: berth.env,
      resyncMs: 500,
      repairBackoffMs: 300,
      maxRepairBackoffMs: 3_000,
      leaseTtlMs: 3_000,
    });
  });

  afterAll(async () => {
    await reconciler?.stop();
    await berth?.close();
    await runtime?.stop();
    printMatrix();
  });

  async function tagged(service: string, kind: ResourceKind) {
    return runtime.client.list(RUNTIME_KIND[kind], { 'berth:service': service, 'berth:env': 'local' });
  }

  /** Changes one resource behind berth's back, as an engineer at the runtime console would. */
  async function inject(service: string, kind: ResourceKind, fault: Fault): Promise<string> {
    const { client } = runtime;
    const items = (await tagged(service, kind)) as unknown as {
      id: string;
      tags: Record<string, string>;
    }[];
    // The newest generation: mid-deploy, that is the compute being deployed.
    const target = [...items].sort(
      (a, b) => Number(b.tags['berth:generation']) - Number(a.tags['berth:generation']),
    )[0];
    if (!target) throw new Error(`${service} has no ${kind} to change`);
    if (fault === 'deleted') {
      await client.remove(RUNTIME_KIND[kind], target.id);
      return `deleted ${target.id}`;
    }
    if (fault === 'modified') {
      if (kind === 'compute') await client.update('services', target.id, { env: { GREETING: 'tampered' } });
      if (kind === 'route') await client.update('routes', target.id, { serviceId: intruder.id });
      if (kind === 'dns') await client.update('dns', target.id, { target: 'elsewhere.example.test' });
      if (kind === 'healthcheck') await client.update('healthchecks', target.id, { path: '/tampered' });
      return `modified ${target.id}`;
    }
    const tags = { ...target.tags };
    if (kind === 'compute') {
      const compute = target as unknown as RuntimeService;
      tags['berth:generation'] = String(Number(tags['berth:generation']) + 7);
      const { id: _id, createdAt: _c, updatedAt: _u, replicaStatus: _r, ...input } = compute;
      await client.create('services', { ...input, name: `${compute.name}-dup`, tags });
    }
    // A second route for the host, newer, so it wins, and to someone else's service: a hijack.
    if (kind === 'route') {
      await client.create('routes', {
        host: (target as unknown as { host: string }).host,
        serviceId: intruder.id,
        tags,
      });
    }
    if (kind === 'dns') {
      await client.create('dns', {
        name: (target as unknown as { name: string }).name,
        type: 'CNAME',
        target: runtime.info.proxyHost,
        tags,
      });
    }
    if (kind === 'healthcheck') {
      const check = target as unknown as {
        host: string;
        path: string;
        intervalMs: number;
        failureThreshold: number;
      };
      await client.create('healthchecks', {
        host: check.host,
        path: check.path,
        intervalMs: check.intervalMs,
        failureThreshold: check.failureThreshold,
        tags,
      });
    }
    return `duplicated ${target.id}`;
  }

  /** Live and as wanted: in sync, healthy, answering at its host name with its revision's greeting. */
  async function live(service: string): Promise<boolean> {
    if (await berth.store.getActiveOperation('local', service)) return false;
    const status = await berth.status(service);
    if (!status || status.sync !== 'InSync' || status.health !== 'Healthy') return false;
    if (status.resources.some((view) => view.state !== 'ok')) return false;
    const record = await berth.store.getService('local', service);
    const revision = await berth.store.getRevision('local', service, record!.currentRevision!);
    const response = await runtime.request(`${service}.local.localhost`, '/').catch(() => null);
    return response?.status === 200 && response.body.startsWith(`${revision!.spec.env.GREETING} from`);
  }

  /** Gone, entirely: nothing tagged for it and no record. */
  async function gone(service: string): Promise<boolean> {
    if (await berth.store.getService('local', service)) return false;
    if (await berth.store.getActiveOperation('local', service)) return false;
    for (const kind of KINDS) if ((await tagged(service, kind)).length) return false;
    return true;
  }

  /** A repair never runs beside another operation: no two of a service's operations overlap. */
  function overlapping(operations: OperationRecord[]): string | null {
    const spans = operations
      .filter((op) => op.startedAt)
      .map((op) => ({
        op,
        from: Date.parse(op.startedAt!),
        to: op.finishedAt ? Date.parse(op.finishedAt) : Infinity,
      }));
    for (const a of spans)
      for (const b of spans)
        if (a.op.id < b.op.id && a.from < b.to && b.from < a.to)
          return `${a.op.kind} and ${b.op.kind} overlap`;
    return null;
  }

  async function detectedAfter(service: string, since: number): Promise<number | null> {
    const events = await berth.store.listEvents({
      env: 'local',
      service,
      since: new Date(since).toISOString(),
    });
    const seen = events.find((event) => event.type === 'drift.seen');
    return seen ? Date.parse(seen.time) - since : null;
  }

  async function runCell(state: State, kind: ResourceKind, fault: Fault): Promise<Cell> {
    const service = serviceName(state, kind, fault);
    const cell: Cell = { state, kind, fault, ok: false, ms: 0, detectMs: null, revision: null, note: '' };
    let started = Date.now();
    let specDir: string | null = null;
    try {
      if (state === 'idle') {
        started = Date.now();
        cell.note = await inject(service, kind, fault);
      } else {
        const args =
          state === 'mid-deploy'
            ? [
                'deploy',
                (specDir = writeSpecFile(helloSpec(service, { env: { GREETING: 'v2' } }))),
                '--env',
                'local',
              ]
            : ['delete', service, '--env', 'local', '--yes'];
        const step = state === 'mid-deploy' ? 'wait until healthy' : 'check identity';
        const cli = spawnCli(args, {
          dataDir: runtime.dataDir,
          env: { BERTH_TEST_PAUSE_IN_STEP: step, BERTH_TEST_PAUSE_MS: String(PAUSE_MS) },
        });
        await cli.waitForStderr(`paused in step "${step}"`);
        started = Date.now();
        cell.note = await inject(service, kind, fault);
        const result = await cli.exited;
        cell.note += `; ${args[0]} exit ${result.code}`;
        if (state === 'mid-delete' && result.code !== 0) throw new Error(`delete failed:\n${result.stderr}`);
      }
      await waitFor(() => (state === 'mid-delete' ? gone(service) : live(service)), {
        timeoutMs: CONVERGE_TIMEOUT_MS,
        intervalMs: 50,
        what: `${service} to converge`,
      });
      cell.ms = Date.now() - started;
      cell.detectMs = await detectedAfter(service, started);
      const operations = await berth.store.listOperations('local', service);
      const overlap = overlapping(operations);
      if (overlap) throw new Error(overlap);
      if (state === 'mid-delete') {
        const deleteOp = operations.find((op) => op.kind === 'delete');
        const lateRepair = operations.find(
          (op) => op.kind === 'repair' && deleteOp && op.createdAt > deleteOp.createdAt,
        );
        if (lateRepair) throw new Error(`a repair ran after the delete started: ${lateRepair.id}`);
      }
      cell.revision = (await berth.store.getService('local', service))?.currentRevision ?? null;
      cell.ok = true;
    } catch (error) {
      cell.ms = Date.now() - started;
      cell.note += `; ${(error as Error).message.split('\n')[0]}`;
    } finally {
      if (specDir) rmSync(specDir, { recursive: true, force: true });
    }
    results.push(cell);
    return cell;
  }

  async function deployAll(state: State): Promise<string[]> {
    const names = KINDS.flatMap((kind) => FAULTS.map((fault) => serviceName(state, kind, fault)));
    const outcomes = await Promise.all(names.map((name) => berth.engine().deploy(helloSpec(name))));
    for (const outcome of outcomes) expect(outcome.operation.status).toBe('succeeded');
    // Quiet before the faults: each service in sync, so that what follows is the fault's doing.
    await Promise.all(
      names.map((name) => waitFor(() => live(name), { timeoutMs: 15_000, what: `${name} live` })),
    );
    return names;
  }

  async function runState(state: State, parallel: number): Promise<void> {
    await deployAll(state);
    const cells = KINDS.flatMap((kind) => FAULTS.map((fault) => [kind, fault] as const));
    const done: Cell[] = [];
    for (let i = 0; i < cells.length; i += parallel) {
      done.push(
        ...(await Promise.all(
          cells.slice(i, i + parallel).map(([kind, fault]) => runCell(state, kind, fault)),
        )),
      );
    }
    const failed = done.filter((cell) => !cell.ok);
    expect(failed.map((cell) => `${cell.kind} ${cell.fault}: ${cell.note}`)).toEqual([]);
  }

  it('service idle', () => runState('idle', 12), 90_000);
  it('in the middle of a deploy', () => runState('mid-deploy', 4), 120_000);
  it('in the middle of a delete', () => runState('mid-delete', 6), 90_000);
});

function printMatrix(): void {
  const cell = (state: State, kind: ResourceKind, fault: Fault) => {
    const found = results.find((r) => r.state === state && r.kind === kind && r.fault === fault);
    if (!found) return 'not run';
    const detect =
      found.detectMs !== null && found.state === 'idle'
        ? ` (seen ${(found.detectMs / 1000).toFixed(2)}s)`
        : '';
    const revision = found.state === 'mid-deploy' && found.revision ? ` rev ${found.revision}` : '';
    return `${found.ok ? 'ok' : 'FAIL'} ${(found.ms / 1000).toFixed(2)}s${detect}${revision}`;
  };
  const width = 26;
  const lines = [
    'fault matrix: time from the fault until converged ("seen": the drift event; "rev": live revision,',
    '2 = the deploy went through, 1 = it failed and berth returned to the last healthy revision)',
    `${'kind / fault'.padEnd(24)}${STATES.map((s) => s.padEnd(width)).join('')}`,
  ];
  for (const kind of KINDS)
    for (const fault of FAULTS)
      lines.push(
        `${`${kind} ${fault}`.padEnd(24)}${STATES.map((s) => cell(s, kind, fault).padEnd(width)).join('')}`,
      );
  const failures = results.filter((r) => !r.ok);
  for (const failure of failures)
    lines.push(`FAIL ${failure.state} ${failure.kind} ${failure.fault}: ${failure.note}`);
  console.log(lines.join('\n'));
}
