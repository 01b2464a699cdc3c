/** Refusals made by the CLI itself, before any engine runs, are audited in the environment's own store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXAMPLES, runCli } from '../test/helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../test/helpers/runtime.js';

describe('CLI refusals are audited', () => {
  let runtime: TestRuntime;
  beforeAll(async () => {
    runtime = await startTestRuntime();
    writeFileSync(
      join(runtime.dataDir, 'berth.config.yaml'),
      'environments:\n  local: { provider: local }\n  production: { provider: local, protected: true }\n',
    );
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('a change reaching a protected environment by $BERTH_ENV is refused (exit 3) and audited there', async () => {
    const refused = await runCli(['deploy', join(EXAMPLES, 'hello')], {
      dataDir: runtime.dataDir,
      env: { BERTH_ENV: 'production' },
    });
    expect(refused.code, refused.stderr).toBe(3);
    expect(await runtime.client.list('services')).toEqual([]);
    const audit = await runCli(['audit', '--env', 'production', '--json'], { dataDir: runtime.dataDir });
    const entries = JSON.parse(audit.stdout) as { interface: string; action: string; result: string }[];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ interface: 'direct', action: 'open environment to change it' });
    expect(entries[0]!.result).toBe(
      'refused: production is protected: changes to it need --env production written out',
    );
  }, 60_000);
});
