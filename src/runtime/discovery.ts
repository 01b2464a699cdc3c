/**
 * How clients find a running runtime: the runtime.json it writes, and a ping. Kept apart from the
 * server so that clients (every CLI command) do not load the server's code.
 */
import { readFileOrNull } from './files.js';
import type { RuntimePaths } from './paths.js';
import type { RuntimeDiscovery } from './types.js';

export function readDiscovery(paths: RuntimePaths): RuntimeDiscovery | null {
  const raw = readFileOrNull(paths.discovery);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as RuntimeDiscovery;
  } catch {
    return null;
  }
}

export async function pingRuntime(consoleUrl: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(new URL('/v1/ping', consoleUrl), { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
