/**
 * Test helper: berth's engine, store and reconciler in the test process, against a real local
 * runtime (test/helpers/runtime.ts) and a real SQLite file in the runtime's data dir, so that
 * the real CLI (test/helpers/cli.ts) run with the same data dir shares berth's state with them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { environmentStatus, type ServiceStatus } from '../../src/engine/status.js';
import { localProvider } from '../../src/providers/local/index.js';
import type { Provider } from '../../src/providers/provider.js';
import { SqliteStateStore } from '../../src/state/sqlite/store.js';
import type { DriftPolicy, EnvironmentConfig, ServiceSpec } from '../../src/spec/types.js';
import { HELLO_DIR, type TestRuntime } from './runtime.js';

export interface Berth {
  store: SqliteStateStore;
  provider: Provider;
  env: EnvironmentConfig;
  engine(): Engine;
  status(service: string): Promise<ServiceStatus | undefined>;
  close(): Promise<void>;
}

export function localEnv(drift: DriftPolicy = 'heal', name = 'local'): EnvironmentConfig {
  return { name, provider: 'local', protected: false, color: 'green', drift, local: { domain: 'localhost' } };
}

export function openBerth(runtime: TestRuntime, env: EnvironmentConfig = localEnv()): Berth {
  const store = SqliteStateStore.open(join(runtime.dataDir, 'state.db'));
  const provider = localProvider(runtime.client, runtime.info);
  return {
    store,
    provider,
    env,
    engine: () => new Engine({ store, provider, env }),
    status: async (service) => (await environmentStatus(store, provider, env, service))[0],
    close: () => store.close(),
  };
}

/** examples/hello with fast health checks and one replica: what every reconciler test deploys. */
export function helloSpec(name: string, overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    run: { command: ['node', 'server.js'], cwd: HELLO_DIR },
    port: 8080,
    replicas: 1,
    health: { path: '/healthz', intervalMs: 200, timeoutMs: 150, healthyThreshold: 1, unhealthyThreshold: 2 },
    domains: [],
    env: { GREETING: 'v1' },
    protection: { deletion: false },
    drift: 'heal',
    ...overrides,
  };
}

/** The same spec as a berth.yaml in a fresh directory, for the real CLI. */
export function writeSpecFile(spec: ServiceSpec): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spec-'));
  const yaml = [
    `name: ${spec.name}`,
    `run:`,
    `  command: [${spec.run!.command.join(', ')}]`,
    `  cwd: ${spec.run!.cwd}`,
    `replicas: ${spec.replicas}`,
    `health: { path: ${spec.health.path}, interval: ${spec.health.intervalMs}ms, timeout: ${spec.health.timeoutMs}ms, healthyThreshold: ${spec.health.healthyThreshold}, unhealthyThreshold: ${spec.health.unhealthyThreshold} }`,
    `env: { ${Object.entries(spec.env)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')} }`,
    `drift: ${spec.drift}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'berth.yaml'), yaml);
  return dir;
}
