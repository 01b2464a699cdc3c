/**
 * Every AWS call berth makes, counted by API and operation (DynamoDB, STS and EC2 included), so
 * that an operator can tell a sweep from a deploy from the state store on /metrics. The counter
 * lives in prom-client's default registry; the API's own registry registers it too.
 */
import { Counter, register } from 'prom-client';

export type AwsCallResult = 'ok' | 'throttled' | 'error';

const NAME = 'berth_aws_calls_total';

/** Attempts, not logical calls: a retried call counts once per attempt, as AWS bills and throttles. */
export const awsCalls: Counter<'api' | 'operation' | 'result'> =
  (register.getSingleMetric(NAME) as Counter<'api' | 'operation' | 'result'> | undefined) ??
  new Counter({
    name: NAME,
    help: 'AWS API calls made by berth (every attempt), by API, operation and result (ok, throttled, error)',
    labelNames: ['api', 'operation', 'result'] as const,
  });

export function countAwsCall(api: string, operation: string, result: AwsCallResult): void {
  awsCalls.inc({ api, operation, result });
}

/** The counts so far, by "api:Operation" (all results): for benchmarks and tests. */
export async function awsCallCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const value of (await awsCalls.get()).values) {
    const key = `${value.labels.api}:${value.labels.operation}`;
    counts.set(key, (counts.get(key) ?? 0) + value.value);
  }
  return counts;
}
