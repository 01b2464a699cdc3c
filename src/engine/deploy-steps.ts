import { isoTime } from '../core/clock.js';
import { TAG_GENERATION } from '../core/tags.js';
import { UserError } from '../core/errors.js';
import type { ObservedResource } from '../providers/provider.js';
import type { ResourceKind } from '../state/store.js';
import type { ServiceSpec } from '../spec/types.js';
import { convergeKind, describeConverge } from './converge.js';
import { verifyIdentity, type ServiceContext } from './context.js';
import { DRAIN_RETRY, type StepContext, type StepDefinition } from './steps.js';
import { syncInventory } from './inventory.js';
import { waitUntilHealthy } from './health-wait.js';

/** The fields of a compute that change in place; any other difference means new replicas. */
const IN_PLACE_FIELDS = new Set(['replicas']);

export const DEPLOY_STEP_NAMES = [
  'validate',
  'check identity',
  'ensure compute',
  'ensure dns',
  'ensure health check',
  'wait until healthy',
  'switch traffic',
  'retire old compute',
  'record',
] as const;

export interface ComputeCheckpoint {
  computeId: string;
  generation: number;
  name: string;
}

export interface DeployOptions {
  /** How long new replicas may take to become healthy. Default 60 s. */
  healthDeadlineMs: number;
}

export function generationOf(resource: ObservedResource): number {
  return Number(resource.tags[TAG_GENERATION]) || 0;
}

/**
 * The steps of deploy, rollback and repair: they converge the world on one revision. New compute
 * is started beside the old one and gets traffic only once healthy (blue/green), so a version
 * that never becomes healthy never serves.
 */
export function deploySteps(
  context: ServiceContext,
  spec: ServiceSpec,
  options: DeployOptions,
): StepDefinition[] {
  const { provider, env, store, service } = context;
  const scope = { env: env.name, service };
  const computeOf = (step: StepContext) => {
    const checkpoint = step.checkpointOf<ComputeCheckpoint>('ensure compute');
    if (!checkpoint) throw new Error('no compute was recorded by step "ensure compute"');
    return checkpoint;
  };
  const inventoryOf = async (kind: ResourceKind) =>
    (await store.listResources(env.name, service)).filter((record) => record.kind === kind);

  const ensure = (name: string, kind: ResourceKind): StepDefinition => ({
    name,
    deadlineMs: 30_000,
    async run(step) {
      const { computeId, generation } = computeOf(step);
      const driver = provider.drivers[kind];
      const desired = provider.desired(kind, { env, spec, generation, computeId });
      const inventory = await inventoryOf(kind);
      const known = inventory.map((record) => record.providerId);
      const result = await convergeKind(
        driver,
        desired,
        await driver.observeAll({ ...scope, known }),
        inventory,
      );
      await syncInventory(store, env.name, service, kind, result.kept, generation, result.removed);
      return describeConverge(kind, result);
    },
  });

  return [
    {
      name: 'validate',
      deadlineMs: 5_000,
      async run(step) {
        if (provider.name === 'local' && !spec.run) {
          throw new UserError(`${spec.name} has no run.command, which the local provider needs`);
        }
        if (provider.name === 'aws' && !spec.image) {
          throw new UserError(`${spec.name} has no image, which the aws provider needs`);
        }
        return `revision ${step.operation.revision}: ${spec.name}, ${spec.replicas} replica(s)`;
      },
    },
    { name: 'check identity', deadlineMs: 10_000, run: () => verifyIdentity(context) },
    {
      name: 'ensure compute',
      deadlineMs: 30_000,
      async run(step) {
        const driver = provider.drivers.compute;
        const observed = await driver.observeAll(scope);
        const record = await store.getService(env.name, service);
        const desiredAt = (generation: number) => provider.desired('compute', { env, spec, generation })[0]!;
        const reusable = observed
          .filter((have) =>
            driver
              .diff(desiredAt(generationOf(have)), have)
              .every((drift) => IN_PLACE_FIELDS.has(drift.field)),
          )
          .sort((a, b) => generationOf(b) - generationOf(a));
        const reuse = reusable.find((have) => generationOf(have) === record?.generation) ?? reusable[0];
        if (reuse) {
          const generation = generationOf(reuse);
          const want = desiredAt(generation);
          const scaled =
            driver.diff(want, reuse).length > 0 ? await driver.update(reuse.providerId, want) : null;
          await step.checkpoint({ computeId: reuse.providerId, generation, name: reuse.name });
          await syncInventory(store, env.name, service, 'compute', [reuse], generation, []);
          return scaled
            ? `scaled ${reuse.name} (${reuse.providerId}) to ${spec.replicas} replica(s)`
            : `${reuse.name} (${reuse.providerId}) already runs this revision`;
        }
        // A new generation: its name is new, so it never collides with one that is draining.
        let generation = Math.max(record?.generation ?? 0, ...observed.map(generationOf)) + 1;
        for (let attempt = 0; ; attempt++) {
          try {
            const created = await driver.create(desiredAt(generation));
            await step.checkpoint({ computeId: created.providerId, generation, name: created.name });
            await syncInventory(store, env.name, service, 'compute', [created], generation, []);
            return `created ${created.name} (${created.providerId}), generation ${generation}`;
          } catch (error) {
            if (!(error instanceof UserError && error.code === 'conflict') || attempt >= 5) throw error;
            generation += 1; // the name is taken by something berth does not own: use the next one
          }
        }
      },
    },
    // DNS and the health check do not send traffic anywhere, so they are made while the new
    // replicas start (on AWS, Route 53 propagation then overlaps the tasks' start).
    ensure('ensure dns', 'dns'),
    ensure('ensure health check', 'healthcheck'),
    {
      name: 'wait until healthy',
      deadlineMs: options.healthDeadlineMs + 10_000,
      run: (step) => waitUntilHealthy(step, provider, computeOf(step).computeId, options.healthDeadlineMs),
    },
    ensure('switch traffic', 'route'),
    {
      name: 'retire old compute',
      deadlineMs: 30_000,
      retry: DRAIN_RETRY,
      async run(step) {
        const { computeId } = computeOf(step);
        const driver = provider.drivers.compute;
        const old = (await driver.observeAll(scope)).filter((have) => have.providerId !== computeId);
        const known = (await inventoryOf('compute')).filter((record) => record.providerId !== computeId);
        const ids = new Map([...old.map((o) => [o.providerId, o.name] as const)]);
        for (const record of known)
          if (!ids.has(record.providerId)) ids.set(record.providerId, record.providerId);
        for (const id of ids.keys()) {
          await driver.delete(id);
          await store.deleteResource(env.name, service, 'compute', id);
        }
        return ids.size
          ? `stopped ${[...ids].map(([id, name]) => `${name} (${id})`).join(', ')}`
          : 'nothing to retire';
      },
    },
    {
      name: 'record',
      deadlineMs: 10_000,
      async run(step) {
        const { generation } = computeOf(step);
        const revision = step.operation.revision;
        for (let attempt = 0; ; attempt++) {
          const current = await store.getService(env.name, service);
          const now = isoTime(context.clock.now());
          try {
            await store.putService(
              {
                env: env.name,
                name: service,
                currentRevision: revision,
                lastHealthyRevision: revision,
                generation,
                status: 'active',
                createdAt: current?.createdAt ?? now,
                updatedAt: now,
              },
              current?.version ?? null,
            );
            break;
          } catch (error) {
            if (attempt >= 3) throw error;
          }
        }
        const urls = await provider.urls(spec, env);
        return `revision ${revision} is live at ${urls.join(', ')}`;
      },
    },
  ];
}
