/**
 * What a service's replicas printed, read the same way by `berth logs --direct`, the API's logs
 * route (and through it `berth logs` and the dashboard): the provider's lines for the service's
 * serving compute. AWS keeps them in CloudWatch Logs, with times; the local runtime in replica
 * files, without times, and masks the service's secret values as it reads them.
 */
import { NotFoundError, UserError } from '../core/errors.js';
import type { LogLine, Provider } from '../providers/provider.js';
import type { StateStore } from '../state/store.js';

/** Lines a request may ask for at once (a page of the dashboard asks for far fewer). */
export const MAX_LOG_LINES = 10_000;

export interface LogsRequest {
  /** From this time on (ms since the epoch), where the provider keeps times. */
  startTime: number;
  /** At most this many lines: the newest. */
  limit: number;
}

export interface ServiceLogs {
  service: string;
  /** False when the provider keeps no times with its lines (the local runtime): `since` did not apply. */
  timed: boolean;
  /** Oldest first. */
  lines: LogLine[];
}

/** NotFound for a service berth does not know in `env`; a UserError for a provider without logs. */
export async function serviceLogs(
  store: StateStore,
  provider: Provider,
  env: string,
  service: string,
  request: LogsRequest,
): Promise<ServiceLogs> {
  if (!provider.logs) {
    throw new UserError(`the ${provider.name} provider keeps no logs berth can read`);
  }
  if (!(await store.getService(env, service))) {
    throw new NotFoundError(`${service} is not deployed in ${env}`, {
      hint: `list the services with: berth ls --env ${env}`,
    });
  }
  const computeId =
    (await store.listResources(env, service)).find((record) => record.kind === 'compute')?.providerId ?? null;
  const lines = await provider.logs({
    service,
    computeId,
    startTime: request.startTime,
    limit: request.limit,
  });
  return {
    service,
    timed: provider.name !== 'local',
    lines: lines.slice(-request.limit),
  };
}
