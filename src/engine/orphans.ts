import { berthTags, TAG_GENERATION, TAG_SERVICE, type Tags } from '../core/tags.js';
import { NotFoundError, UserError } from '../core/errors.js';
import type { Provider } from '../providers/provider.js';
import type { EnvironmentConfig } from '../spec/types.js';
import { RESOURCE_KINDS, type ResourceKind, type StateStore } from '../state/store.js';
import { checkIdentity } from './context.js';
import { computeDrift, observeEnvironment, type EnvironmentObservation } from './drift.js';
import { audited, directActor, requireConfirmation, type Actor } from './guard.js';

/**
 * A resource tagged as berth's (`berth:managed-by=berth`) in an environment that no live revision
 * desires: its service has no record in berth, or was never live, or does not want it (a
 * duplicate, a leftover of an earlier generation). Untagged resources are never orphans.
 */
export interface Orphan {
  kind: ResourceKind;
  providerId: string;
  name: string;
  key: string;
  /** The service its tags name ('' when untagged for a service). */
  service: string;
  /**
   * no-record: berth has no record of its service; not-desired: its service's live revision does
   * not want it; never-live: its service has no live revision (a failed first deploy kept with
   * --no-rollback, or one whose clean-up was interrupted).
   */
  reason: 'no-record' | 'not-desired' | 'never-live';
  attributes: Record<string, unknown>;
  tags: Tags;
}

export interface OrphanContext {
  store: StateStore;
  provider: Provider;
  env: EnvironmentConfig;
  actor?: Actor;
}

/**
 * Every orphan in the environment, from one observation (a list call per kind). Services with an
 * active operation are skipped: a deploy's new generation is not an orphan.
 */
export async function findOrphans(
  context: OrphanContext,
  observation?: EnvironmentObservation,
): Promise<Orphan[]> {
  const { store, provider, env } = context;
  const observed = observation ?? (await observeEnvironment(provider, env.name));
  const orphans: Orphan[] = [];
  for (const [service, kinds] of observed) {
    const record = service ? await store.getService(env.name, service) : null;
    if (service && (await store.getActiveOperation(env.name, service))) continue;
    const desired = record?.status === 'active';
    const revision =
      desired && record.currentRevision
        ? await store.getRevision(env.name, service, record.currentRevision)
        : null;
    const unwanted = revision
      ? new Set(
          computeDrift(
            provider,
            env,
            revision.spec,
            record!.generation,
            kinds,
            await store.listResources(env.name, service),
          )
            .filter((view) => view.state === 'orphaned')
            .map((view) => view.providerId),
        )
      : null;
    for (const kind of RESOURCE_KINDS) {
      for (const resource of kinds[kind]) {
        if (unwanted && !unwanted.has(resource.providerId)) continue;
        orphans.push({
          kind,
          providerId: resource.providerId,
          name: resource.name,
          key: resource.key,
          service: resource.tags[TAG_SERVICE] ?? '',
          reason: unwanted ? 'not-desired' : desired ? 'never-live' : 'no-record',
          attributes: resource.attributes,
          tags: resource.tags,
        });
      }
    }
  }
  return orphans;
}

/** Removes orphans (idempotent: one already gone counts as removed). Protected envs need `confirm`. */
export async function deleteOrphans(
  context: OrphanContext,
  orphans: Orphan[],
  confirm?: string,
): Promise<{ orphan: Orphan; outcome: 'deleted' | 'already-gone' }[]> {
  const { store, provider, env } = context;
  return audited(
    store,
    {
      actor: context.actor ?? directActor(),
      env: env.name,
      identity: () => null,
      action: 'orphans.delete',
      args: { ids: orphans.map((orphan) => orphan.providerId) },
    },
    async () => {
      await checkIdentity(context);
      requireConfirmation(env, confirm, `delete ${orphans.length} orphaned resource(s)`);
      const done: { orphan: Orphan; outcome: 'deleted' | 'already-gone' }[] = [];
      for (const orphan of orphans) {
        const outcome = await provider.drivers[orphan.kind].delete(orphan.providerId);
        if (orphan.service)
          await store.deleteResource(env.name, orphan.service, orphan.kind, orphan.providerId);
        await store.appendEvent({
          env: env.name,
          service: orphan.service || null,
          operationId: null,
          type: 'orphan.deleted',
          message: `removed orphaned ${orphan.kind} ${orphan.providerId} (${orphan.name})${outcome === 'already-gone' ? ': it was already gone' : ''}`,
          data: { kind: orphan.kind, providerId: orphan.providerId, reason: orphan.reason },
        });
        done.push({ orphan, outcome });
      }
      return done;
    },
    (done) => `removed ${done.length} orphaned resource(s)`,
  );
}

/**
 * Takes orphans into `service`: re-tags them as its own and records them in its inventory. The
 * reconciler then treats them like any of its resources: one that the service desires is kept
 * (nothing is re-created), a duplicate is removed by the next repair.
 */
export async function adoptOrphans(
  context: OrphanContext,
  orphans: Orphan[],
  service: string,
): Promise<Orphan[]> {
  const { store, provider, env } = context;
  return audited(
    store,
    {
      actor: context.actor ?? directActor(),
      env: env.name,
      identity: () => null,
      action: 'orphans.adopt',
      args: { service, ids: orphans.map((orphan) => orphan.providerId) },
    },
    async () => {
      await checkIdentity(context);
      const record = await store.getService(env.name, service);
      if (!record || record.status !== 'active') {
        const names = (await store.listServices(env.name)).map((r) => r.name);
        throw new NotFoundError(`there is no service "${service}" in ${env.name} to adopt into`, {
          hint: names.length ? `services in ${env.name}: ${names.join(', ')}` : `deploy ${service} first`,
        });
      }
      const adopted: Orphan[] = [];
      for (const orphan of orphans) {
        const generation =
          orphan.kind === 'compute'
            ? Number(orphan.tags[TAG_GENERATION]) || record.generation
            : record.generation;
        const tags = { ...orphan.tags, ...berthTags(env.name, service, generation) };
        const updated = await provider.drivers[orphan.kind].update(orphan.providerId, {
          kind: orphan.kind,
          key: orphan.key,
          attributes: orphan.attributes,
          tags,
        });
        if (!updated) throw new UserError(`${orphan.kind} ${orphan.providerId} is gone: nothing to adopt`);
        await store.putResource({
          env: env.name,
          service,
          kind: orphan.kind,
          providerId: orphan.providerId,
          generation,
          attributes: updated.attributes,
        });
        await store.appendEvent({
          env: env.name,
          service,
          operationId: null,
          type: 'orphan.adopted',
          message: `adopted ${orphan.kind} ${orphan.providerId} (${orphan.name}) into ${service}`,
          data: { kind: orphan.kind, providerId: orphan.providerId, from: orphan.service || null },
        });
        adopted.push({ ...orphan, service, tags });
      }
      return adopted;
    },
    (adopted) => `adopted ${adopted.length} resource(s) into ${service}`,
  );
}
