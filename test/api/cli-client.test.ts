import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeApiDiscovery } from '../../src/api/paths.js';
import { ApiClient, directCommandLine, parseSse } from '../../src/cli/api-client.js';
import { selectBackend } from '../../src/cli/backend.js';
import type { GlobalOptions } from '../../src/cli/globals.js';

function stream(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      // Split mid-line, as a network would.
      controller.enqueue(bytes.slice(0, 17));
      controller.enqueue(bytes.slice(17));
      controller.close();
    },
  });
}

describe('the CLI side of the API', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    delete process.env.BERTH_API;
  });
  const globals = (extra: Partial<GlobalOptions> = {}): GlobalOptions => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-cli-api-'));
    dirs.push(dataDir);
    return { dataDir, json: false, noColor: true, direct: false, ...extra };
  };

  it('parses server-sent events: ids, event names, multi-line data, comments', async () => {
    const messages = [];
    const text =
      ': hello\nretry: 1000\n\nid: 7\nevent: step.started\ndata: {"a":1}\n\nevent: outcome\ndata: x\ndata: y\n\n';
    for await (const message of parseSse(stream(text))) messages.push(message);
    expect(messages).toEqual([
      { id: '7', event: 'step.started', data: '{"a":1}' },
      { id: null, event: 'outcome', data: 'x\ny' },
    ]);
  });

  it('chooses direct mode unless an API is named or set up in the data dir', () => {
    expect(selectBackend(globals()).mode).toBe('direct');
    const withApi = globals();
    writeApiDiscovery(withApi.dataDir, {
      url: 'http://127.0.0.1:1',
      pid: 1,
      startedAt: '',
      dashboardUrl: '',
    });
    expect(selectBackend(withApi).mode).toBe('api');
    expect(selectBackend({ ...withApi, direct: true }).mode).toBe('direct');
    expect(selectBackend(globals({ api: 'http://127.0.0.1:1' })).mode).toBe('api');
    process.env.BERTH_API = 'http://127.0.0.1:1';
    expect(selectBackend(globals()).mode).toBe('api');
  });

  it('an unreachable API is exit 4, naming the same command with --direct', async () => {
    const client = new ApiClient({
      url: 'http://127.0.0.1:1',
      token: null,
      directCommand: directCommandLine(['status', 'hello', '--env', 'local', '--label', "it's"]),
    });
    const error = await client.get('/v1/envs').catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 4, code: 'api_unreachable' });
    expect((error as { hint: string }).hint).toContain(
      "berth status hello --env local --label 'it'\\''s' --direct",
    );
  });
});
