/**
 * The failure: AWS cannot be reached (a closed port) or keeps answering 5xx. berth used to print
 * "internal error ... bug in berth" and exit 70. Now the command exits 1 and names the call and
 * the endpoint; the API answers 502 with the same words, and exit 70 stays for real bugs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, runCli } from '../helpers/cli.js';
import { freePort } from '../../src/runtime/supervisor.js';
import { toHttpError } from '../../src/api/errors.js';
import { ProviderUnavailableError } from '../../src/core/provider-errors.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A data dir whose only environment is on AWS at `endpoint`. */
function dataDirFor(endpoint: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-unreachable-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'berth.config.yaml'),
    [
      'environments:',
      '  cloud:',
      '    provider: aws',
      '    aws:',
      '      accountId: "123456789012"',
      '      region: us-east-1',
      `      endpoint: ${endpoint}`,
      '',
    ].join('\n'),
  );
  return dir;
}

const AWS_ENV = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' };

function expectProviderError(result: { code: number | null; stderr: string }, endpoint: string) {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toContain(`at ${endpoint} failed`);
  expect(result.stderr).toMatch(/AWS \w[\w ]* \w+ at /); // the service and the call
  expect(result.stderr).not.toContain('internal error');
  expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
}

describe('AWS unreachable or failing', () => {
  it('a closed port: status and deploy exit 1 naming the call and the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    const dataDir = dataDirFor(endpoint);
    const status = await runCli(['status', '--env', 'cloud'], { dataDir, env: AWS_ENV });
    expectProviderError(status, endpoint);
    expect(status.stderr).toContain('connection refused (ECONNREFUSED)');
    const deploy = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'cloud', '--json'], {
      dataDir,
      env: AWS_ENV,
    });
    expectProviderError(deploy, endpoint);
    expect(JSON.parse(deploy.stdout)).toMatchObject({ error: 'provider_unreachable' });
  });

  it('a server answering 503: retried, then exit 1 naming the call, the endpoint and the status', async () => {
    let requests = 0;
    const server: Server = createServer((request, response) => {
      requests += 1;
      request.resume();
      response.writeHead(503, { 'content-type': 'text/xml' });
      response.end(
        '<ErrorResponse><Error><Code>ServiceUnavailable</Code><Message>down</Message></Error></ErrorResponse>',
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const status = await runCli(['status', '--env', 'cloud'], {
      dataDir: dataDirFor(endpoint),
      env: AWS_ENV,
    });
    expectProviderError(status, endpoint);
    expect(status.stderr).toMatch(/HTTP 503 after \d+ attempts/);
    expect(requests).toBeGreaterThan(1);
  });

  it('the API answers 502 with the same words (exit 1 for its CLI); other errors stay bugs', () => {
    const failure = new ProviderUnavailableError(
      'AWS ECS ListServices',
      'https://ecs.eu-west-1.amazonaws.com',
      'timed out',
    );
    const mapped = toHttpError(failure);
    expect(mapped.status).toBe(502);
    expect(mapped.body).toMatchObject({
      error: 'provider_unreachable',
      exitCode: 1,
      message: 'AWS ECS ListServices at https://ecs.eu-west-1.amazonaws.com failed: timed out',
    });
    expect(toHttpError(new TypeError('x is undefined')).status).toBe(500);
  });
});
