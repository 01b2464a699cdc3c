/**
 * Crash safety of the control plane: a deploy through the API, `berth up` killed with a real
 * SIGKILL in the middle of a step, then `berth up` again. The new control plane resumes the
 * operation at the step it was in and completes it: the events say so, the service answers, and
 * the runtime holds exactly one of each of its pieces.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startUp, stopRuntime, type UpProcess } from '../test/helpers/control-plane.js';
import { helloSpec } from '../test/helpers/berth.js';
import { proxyRequest, waitFor } from '../test/helpers/runtime.js';
import { connectRuntime } from '../src/runtime/launcher.js';
import type { RuntimeKind } from '../src/runtime/types.js';

const KINDS: RuntimeKind[] = ['services', 'routes', 'dns', 'healthchecks'];

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface ApiEvent {
  seq: number;
  type: string;
  operationId: string | null;
  message: string;
}

async function api<T>(up: UpProcess, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${up.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${up.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function counts(dataDir: string, service: string): Promise<number[]> {
  const client = await connectRuntime(dataDir);
  if (!client) throw new Error('the runtime is not running');
  return Promise.all(
    KINDS.map(
      async (kind) => (await client.list(kind, { 'berth:service': service, 'berth:env': 'local' })).length,
    ),
  );
}

describe('berth up killed with SIGKILL in the middle of a deploy', () => {
  it.each(['ensure compute', 'wait until healthy', 'switch traffic'])(
    'killed in "%s": the next berth up resumes the deploy and completes it; no duplicates',
    async (step) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'berth-api-crash-test-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      cleanups.push(() => stopRuntime(dataDir));

      // The API process runs the operation, so it is the one that pauses inside the step.
      const first = await startUp(dataDir, { BERTH_TEST_PAUSE_IN_STEP: step });
      cleanups.push(() => first.kill());
      const spec = helloSpec('hello', { replicas: 2 });
      const accepted = await api<{ operation: { id: string } }>(
        first,
        'PUT',
        '/v1/envs/local/services/hello',
        { spec },
      );
      const operationId = accepted.operation.id;
      await first.cli.waitForStderr(`paused in step "${step}"`, 30_000);
      await first.kill('SIGKILL');
      expect(first.cli.child.signalCode).toBe('SIGKILL');

      // Again, without the pause: it finds the operation whose runner is gone and finishes it (the
      // control plane at start, or its reconciler, whichever claims the operation first).
      const second = await startUp(dataDir);
      cleanups.push(() => second.kill());
      const operation = await waitFor(
        async () => {
          const op = await api<{ status: string; steps: { name: string; status: string }[] }>(
            second,
            'GET',
            `/v1/envs/local/operations/${operationId}`,
          );
          return op.status === 'running' || op.status === 'pending' ? null : op;
        },
        { timeoutMs: 45_000, intervalMs: 200, what: `operation ${operationId} to finish` },
      );
      expect(operation.status).toBe('succeeded');
      expect(operation.steps.every((s) => s.status === 'succeeded')).toBe(true);

      const events = await api<ApiEvent[]>(
        second,
        'GET',
        `/v1/envs/local/operations/${operationId}/events?limit=10000`,
      );
      const types = events.map((event) => event.type);
      const resumed = types.indexOf('operation.resumed');
      expect(resumed, types.join(', ')).toBeGreaterThan(0);
      expect(events[resumed]!.message).toContain(`interrupted during step "${step}"`);
      expect(types.indexOf('operation.succeeded')).toBeGreaterThan(resumed);
      expect(types.filter((type) => type === 'operation.started')).toHaveLength(1);
      // One operation for the one request: nothing started twice.
      const operations = await api<{ id: string }[]>(
        second,
        'GET',
        '/v1/envs/local/operations?service=hello',
      );
      expect(operations.map((op) => op.id)).toEqual([operationId]);

      const response = await proxyRequest(second.proxyPort, 'hello.local.localhost', '/');
      expect(response.status).toBe(200);
      expect(await counts(dataDir, 'hello')).toEqual([1, 1, 1, 1]);
      const status = await api<{ health: string; revision: number }>(
        second,
        'GET',
        '/v1/envs/local/services/hello',
      );
      expect(status).toMatchObject({ health: 'Healthy', revision: 1 });

      await second.kill('SIGINT');
      expect(second.cli.child.exitCode).toBe(0);
    },
    120_000,
  );
});
