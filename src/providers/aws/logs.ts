/**
 * The CloudWatch Logs calls berth makes: `env init` makes the environment's log group, tasks log
 * to it through the awslogs driver (stream `<service>/app/<task id>`), and `berth logs` reads a
 * service's streams with FilterLogEvents (one call per page, never one per stream).
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  FilterLogEventsCommand,
  PutRetentionPolicyCommand,
  type FilterLogEventsCommandInput,
  type FilterLogEventsCommandOutput,
} from '@aws-sdk/client-cloudwatch-logs';

import type { Tags } from '../../core/tags.js';
import type { LogLine } from '../provider.js';
import { awsErrorName, clientConfig, prepareClient, type AwsConnection } from './clients.js';

/** Days CloudWatch keeps task output (it bills storage per GB-month). */
export const LOG_RETENTION_DAYS = 30;

/** The log group of an environment. */
export function logGroupName(env: string): string {
  return `/berth/${env}`;
}

export interface LogsApi {
  createLogGroup(name: string, tags: Tags): Promise<'created' | 'found'>;
  filterLogEvents(input: FilterLogEventsCommandInput): Promise<FilterLogEventsCommandOutput>;
  destroy(): void;
}

export function createLogsApi(connection: AwsConnection): LogsApi {
  const client = prepareClient(new CloudWatchLogsClient(clientConfig(connection)), 'logs', connection);
  return {
    async createLogGroup(name, tags) {
      try {
        await client.send(new CreateLogGroupCommand({ logGroupName: name, tags }));
      } catch (error) {
        if (awsErrorName(error) === 'ResourceAlreadyExistsException') return 'found';
        throw error;
      }
      await client.send(
        new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: LOG_RETENTION_DAYS }),
      );
      return 'created';
    },
    filterLogEvents: (input) => client.send(new FilterLogEventsCommand(input)),
    destroy: () => client.destroy(),
  };
}

/**
 * A service's log lines since `startTime`, oldest first, at most `limit` (the newest ones), from
 * every task of every generation (the stream prefix is berth's service name).
 */
export async function serviceLogLines(
  api: LogsApi,
  env: string,
  service: string,
  options: { startTime: number; limit: number },
): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await api.filterLogEvents({
        logGroupName: logGroupName(env),
        logStreamNamePrefix: `${service}/`,
        startTime: options.startTime,
        nextToken,
      });
      for (const event of page.events ?? []) {
        // The prefix filter is AWS's; checked again here so another service's streams never show.
        if (!event.logStreamName?.startsWith(`${service}/`)) continue;
        lines.push({
          time: event.timestamp ?? 0,
          source: (event.logStreamName ?? '').split('/').pop() ?? '',
          message: (event.message ?? '').replace(/\n$/, ''),
        });
      }
      nextToken = page.nextToken;
      // Pages come oldest first: keep reading to reach the newest, within a bound.
      if (lines.length > options.limit * 10) break;
    } while (nextToken);
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return [];
    throw error;
  }
  lines.sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
  return lines.slice(-options.limit);
}
