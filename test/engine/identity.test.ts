import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { Provider, VerifiedIdentity } from '../../src/providers/provider.js';
import { helloSpec, localEnv, openBerth, type Berth } from '../helpers/berth.js';
import { startTestRuntime, type TestRuntime } from '../helpers/runtime.js';

/** The berth's provider, counting how often the identity is asked for (a GetCallerIdentity on AWS). */
function counting(provider: Provider): { provider: Provider; asked: () => number } {
  let asked = 0;
  const counted: Provider = Object.create(provider) as Provider;
  counted.identity = () => {
    asked += 1;
    return provider.identity();
  };
  return { provider: counted, asked: () => asked };
}

describe('the identity is verified once per deploy, before anything changes', () => {
  let runtime: TestRuntime;
  let berth: Berth;
  let identity: VerifiedIdentity;

  beforeAll(async () => {
    runtime = await startTestRuntime();
    berth = openBerth(runtime);
    identity = await berth.provider.identity();
  });
  afterAll(async () => {
    await berth.close();
    await runtime.stop();
  });

  it('asks the provider once, and the "check identity" step still shows what was verified', async () => {
    const { provider, asked } = counting(berth.provider);
    const engine = new Engine({ store: berth.store, provider, env: berth.env });
    const { operation } = await engine.deploy(helloSpec('ident-once'));
    expect(operation.status).toBe('succeeded');
    expect(asked()).toBe(1);
    const step = operation.steps.find((candidate) => candidate.name === 'check identity');
    expect(step).toMatchObject({ status: 'succeeded', message: identity.description });
  });

  it('takes the identity the caller verified on opening, when it is fresh, and asks when it is not', async () => {
    const fresh = counting(berth.provider);
    const opened = new Engine({
      store: berth.store,
      provider: fresh.provider,
      env: berth.env,
      verified: { identity, at: Date.now() },
    });
    expect((await opened.deploy(helloSpec('ident-opened'))).operation.status).toBe('succeeded');
    expect(fresh.asked()).toBe(0);
    // Only the first change: a second one asks again.
    expect((await opened.delete('ident-opened', {})).operation.status).toBe('succeeded');
    expect(fresh.asked()).toBe(1);

    const stale = counting(berth.provider);
    const late = new Engine({
      store: berth.store,
      provider: stale.provider,
      env: berth.env,
      verified: { identity, at: Date.now() - 60_000 },
    });
    expect((await late.deploy(helloSpec('ident-late'))).operation.status).toBe('succeeded');
    expect(stale.asked()).toBe(1);
  });

  it("refuses an opener's identity that is not the declared one, before anything is created", async () => {
    const env = { ...localEnv(), identity: 'rtm-0000000000000000' };
    const engine = new Engine({
      store: berth.store,
      provider: berth.provider,
      env,
      verified: { identity, at: Date.now() },
    });
    await expect(engine.deploy(helloSpec('ident-refused'))).rejects.toMatchObject({
      exitCode: 3,
      code: 'identity_mismatch',
    });
    expect(await berth.store.listOperations('local', 'ident-refused')).toEqual([]);
    const names = (await runtime.client.list('services')).map((service) => service.name);
    expect(names.some((name) => name.startsWith('ident-refused'))).toBe(false);
  });
});
