import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { EXAMPLES, runCli, spawnCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';
import { DEPLOY_STEP_NAMES } from '../src/engine/deploy-steps.js';
import { DELETE_STEP_NAMES } from '../src/engine/delete-steps.js';
import type { RuntimeKind } from '../src/runtime/types.js';

const HELLO = join(EXAMPLES, 'hello');
const KINDS: RuntimeKind[] = ['services', 'routes', 'dns', 'healthchecks'];

async function counts(runtime: TestRuntime, env: string): Promise<number[]> {
  return Promise.all(
    KINDS.map(
      async (kind) =>
        (await runtime.client.list(kind, { 'berth:service': 'hello', 'berth:env': env })).length,
    ),
  );
}

/** Runs berth until it is inside `step`, then kills it with a real SIGKILL. */
async function killInStep(runtime: TestRuntime, args: string[], step: string): Promise<void> {
  const cli = spawnCli(args, { dataDir: runtime.dataDir, env: { BERTH_TEST_PAUSE_IN_STEP: step } });
  await cli.waitForStderr(`paused in step "${step}"`);
  cli.child.kill('SIGKILL');
  const result = await cli.exited;
  expect(result.code).toBeNull();
}

// Each case uses its own environment so that the cases share one runtime without sharing state.
const ENVS = ['local', 'staging'];

describe('crash safety: SIGKILL of the CLI during each step', () => {
  let runtime: TestRuntime;
  beforeAll(async () => {
    runtime = await startTestRuntime();
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it.each([...DEPLOY_STEP_NAMES])(
    'deploy killed in "%s": the next deploy resumes it; no duplicates',
    async (step) => {
      const env = ENVS[DEPLOY_STEP_NAMES.indexOf(step) % 2]!;
      await killInStep(runtime, ['deploy', HELLO, '--env', env], step);

      const next = await runCli(['deploy', HELLO, '--env', env], { dataDir: runtime.dataDir });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`interrupted during step "${step}"`);
      expect(await counts(runtime, env)).toEqual([1, 1, 1, 1]);
      const response = await runtime.request(`hello.${env}.localhost`, '/');
      expect(response.status).toBe(200);

      const events = await runCli(['events', 'hello', '--env', env, '--json'], { dataDir: runtime.dataDir });
      const types = JSON.parse(events.stdout).map((e: { type: string }) => e.type);
      expect(types).toContain('operation.resumed');

      const done = await runCli(['delete', 'hello', '--env', env, '--yes'], { dataDir: runtime.dataDir });
      expect(done.code, done.stderr).toBe(0);
    },
  );

  it.each(DELETE_STEP_NAMES)(
    'delete killed in "%s": the next delete completes it; nothing is left',
    async (step) => {
      const env = ENVS[DELETE_STEP_NAMES.indexOf(step) % 2]!;
      const deploy = await runCli(['deploy', HELLO, '--env', env], { dataDir: runtime.dataDir });
      expect(deploy.code, deploy.stderr).toBe(0);
      await killInStep(runtime, ['delete', 'hello', '--env', env, '--yes'], step);

      const next = await runCli(['delete', 'hello', '--env', env, '--yes'], { dataDir: runtime.dataDir });
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`interrupted during step "${step}"`);
      expect(next.stderr).toMatch(/delete succeeded/);
      expect(await counts(runtime, env)).toEqual([0, 0, 0, 0]);
      const ls = await runCli(['ls', '--env', env, '--json'], { dataDir: runtime.dataDir });
      expect(JSON.parse(ls.stdout)).toEqual([]);
    },
  );
});
