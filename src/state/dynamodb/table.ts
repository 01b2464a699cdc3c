/**
 * berth's DynamoDB table: one table, single-table design, keys `pk` and `sk` (strings), billed
 * per request. Several control planes and environments share it; every item's keys start with
 * what it is (see store.ts for the layout).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type DescribeTableCommandOutput,
} from '@aws-sdk/client-dynamodb';

import { MANAGED_BY_VALUE, TAG_MANAGED_BY } from '../../core/tags.js';
import { clientConfig, prepareClient, type AwsConnection } from '../../providers/aws/clients.js';

/** The table berth uses when an environment names none. */
export const DEFAULT_TABLE = 'berth-state';

export function createDynamoClient(connection: AwsConnection): DynamoDBClient {
  return prepareClient(new DynamoDBClient(clientConfig(connection)), 'dynamodb', connection);
}

async function describe(client: DynamoDBClient, table: string): Promise<DescribeTableCommandOutput | null> {
  try {
    return await client.send(new DescribeTableCommand({ TableName: table }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return null;
    throw error;
  }
}

/** True when the table exists (in any state). */
export async function tableExists(client: DynamoDBClient, table: string): Promise<boolean> {
  return (await describe(client, table)) !== null;
}

/**
 * Creates the table when it is missing (tagged as berth's) and waits until it is ACTIVE.
 * Idempotent, and safe when two processes create it at once. Says whether it was found or made.
 */
export async function ensureTable(
  client: DynamoDBClient,
  table: string,
  options: { timeoutMs?: number } = {},
): Promise<'found' | 'created'> {
  let outcome: 'found' | 'created' = 'found';
  if (!(await describe(client, table))) {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
          Tags: [{ Key: TAG_MANAGED_BY, Value: MANAGED_BY_VALUE }],
        }),
      );
      outcome = 'created';
    } catch (error) {
      // Another process created it first: fine.
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    }
  }
  const giveUpAt = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const status = (await describe(client, table))?.Table?.TableStatus;
    if (status === 'ACTIVE') return outcome;
    if (Date.now() > giveUpAt)
      throw new Error(`DynamoDB table ${table} is not ACTIVE (${status ?? 'missing'})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
