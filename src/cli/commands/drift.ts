import type { CommandSpec } from '../registry.js';
import { withEnvironment } from '../environment.js';
import { age, printJson } from '../output.js';
import { renderTable } from '../render/table.js';
import { observeEnvironment } from '../../engine/drift.js';
import { environmentStatus } from '../../engine/status.js';
import { findOrphans } from '../../engine/orphans.js';
import { effectivePolicy } from '../../reconciler/reconcile.js';

function detail(fields: { field: string; desired: unknown; observed: unknown }[]): string {
  return fields
    .map((f) => `${f.field}: ${JSON.stringify(f.observed)} (wants ${JSON.stringify(f.desired)})`)
    .join(', ');
}

export const driftCommand: CommandSpec = {
  name: 'drift',
  summary: 'drift across an environment: missing, modified, unhealthy and orphaned resources',
  help: "Observes the environment now (one list call per resource kind) and compares it with what\nevery service wants. FIRST SEEN comes from the reconciler's drift events, when it saw it.",
  async run({ globals, io }) {
    return withEnvironment(globals, io, { mutating: false }, async ({ store, provider, env }) => {
      const at = Date.now();
      const observation = await observeEnvironment(provider, env.name);
      const statuses = await environmentStatus(store, provider, env, undefined, {
        observation: { data: observation, at },
      });
      const orphans = (await findOrphans({ store, provider, env }, observation)).filter(
        (orphan) => orphan.reason === 'no-record',
      );
      // When the reconciler first saw each drifted resource (its drift.seen events of the last day).
      const seen = new Map<string, string>();
      for (const event of await store.listEvents({
        env: env.name,
        since: new Date(at - 86_400_000).toISOString(),
      })) {
        if (event.type !== 'drift.seen') continue;
        for (const item of (event.data?.items ?? []) as {
          kind: string;
          key: string;
          providerId: string | null;
        }[]) {
          const id = `${event.service ?? ''}|${item.kind}|${item.providerId ?? item.key}`;
          if (!seen.has(id)) seen.set(id, String(event.data?.firstSeenAt ?? event.time));
        }
      }
      const rows = statuses.flatMap((status) =>
        status.resources
          .filter((view) => view.state !== 'ok')
          .map((view) => ({
            service: status.name,
            kind: view.kind,
            providerId: view.providerId,
            key: view.key,
            state: view.state,
            fields: view.drift,
            detail: view.drift.length ? detail(view.drift) : (view.health?.detail ?? ''),
            firstSeenAt: seen.get(`${status.name}|${view.kind}|${view.providerId ?? view.key}`) ?? null,
          })),
      );
      for (const orphan of orphans) {
        rows.push({
          service: orphan.service,
          kind: orphan.kind,
          providerId: orphan.providerId,
          key: orphan.key,
          state: 'orphaned',
          fields: [],
          detail: `tagged for ${orphan.service ? `"${orphan.service}"` : 'no service'}, which berth has no record of`,
          firstSeenAt: seen.get(`${orphan.service}|${orphan.kind}|${orphan.providerId}`) ?? null,
        });
      }
      const services = await Promise.all(
        statuses.map(async (status) => {
          const record = await store.getService(env.name, status.name);
          const revision = record?.currentRevision
            ? await store.getRevision(env.name, status.name, record.currentRevision)
            : null;
          return {
            name: status.name,
            health: status.health,
            sync: status.sync,
            policy: effectivePolicy(env, revision?.spec ?? null),
            repairFailing: status.repairFailing,
          };
        }),
      );
      if (globals.json) {
        return printJson(io, {
          env: env.name,
          observedAt: new Date(at).toISOString(),
          services,
          drift: rows,
        });
      }
      for (const service of services) {
        const sync = service.sync === 'InSync' ? io.color.green(service.sync) : io.color.red(service.sync);
        const failing = service.repairFailing
          ? io.color.red(
              `  repair failing (${service.repairFailing.attempts} attempts): ${service.repairFailing.lastError}`,
            )
          : '';
        io.out(
          `${io.color.bold(service.name)}  ${sync}  ${service.health}  policy ${service.policy}${failing}`,
        );
      }
      if (rows.length === 0) {
        io.out(statuses.length ? `no drift in ${env.name}` : `no services in ${env.name}`);
        return;
      }
      io.out('');
      io.out(
        renderTable(
          ['SERVICE', 'KIND', 'ID', 'STATE', 'DETAIL', 'FIRST SEEN'],
          rows.map((row) => [
            row.service || '-',
            row.kind,
            row.providerId ?? row.key,
            io.color.red(row.state),
            row.detail,
            row.firstSeenAt ? age(row.firstSeenAt) : '-',
          ]),
          { width: io.width, ownLine: ['DETAIL'], shrink: ['ID'] },
        ),
      );
      if (orphans.length) {
        io.err(io.color.dim(`orphans are never removed automatically: see berth orphans --env ${env.name}`));
      }
    });
  },
};
