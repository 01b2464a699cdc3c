/** An API app on a fresh temporary data dir, for fastify.inject tests (no port, no runtime). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type ApiApp } from '../../src/api/app.js';
import { defaultAllowedHosts } from '../../src/api/auth.js';
import { ControlPlane } from '../../src/api/control-plane.js';
import { TokenStore, type Role } from '../../src/api/tokens.js';
import { stopRuntime } from '../helpers/control-plane.js';

/** inject() sends Host: localhost:80 by default. */
export const HOST = 'localhost:80';

export interface TestApi extends ApiApp {
  dataDir: string;
  tokens: TokenStore;
  token(name: string, roles: Record<string, Role>): string;
  close(): Promise<void>;
}

export async function startTestApi(): Promise<TestApi> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-api-test-'));
  const plane = await ControlPlane.create({ dataDir });
  const tokens = TokenStore.forDataDir(dataDir);
  const built = await buildApp({
    plane,
    tokens,
    allowedHosts: () => defaultAllowedHosts(80),
    version: 'test',
  });
  return {
    ...built,
    dataDir,
    tokens,
    token: (name, roles) => tokens.create({ name, roles }).token,
    async close() {
      await built.app.close();
      await plane.close(0);
      // A route that reaches a provider starts the local runtime in this data dir: stop it too.
      await stopRuntime(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A concrete URL for a route pattern. */
export function concrete(url: string, env = 'local'): string {
  return url.replace(':env', env).replace(':service', 'hello').replace(':id', 'op-000000000000');
}
