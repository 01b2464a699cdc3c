/**
 * The least-privilege IAM policy in docs/aws-iam-policy.json against the AWS calls the code makes:
 * every SDK command imported under src/ needs its action in the policy, and the policy allows
 * nothing else (besides what AWS requires alongside those calls: tagging on create, passing the
 * task execution role, condition checks inside transactions).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The IAM prefix of each SDK package berth uses. */
const PREFIXES: Record<string, string> = {
  'client-ecs': 'ecs',
  'client-elastic-load-balancing-v2': 'elasticloadbalancing',
  'client-route-53': 'route53',
  'client-ec2': 'ec2',
  'client-sts': 'sts',
  'client-dynamodb': 'dynamodb',
  'lib-dynamodb': 'dynamodb',
  'client-resource-groups-tagging-api': 'tag',
  'client-cloudwatch-logs': 'logs',
  'client-ssm': 'ssm',
};

/** The document client's commands are named after items; IAM names the underlying calls. */
const DOCUMENT_CLIENT: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactWrite: 'TransactWriteItems',
  TransactGet: 'TransactGetItems',
};

/** Allowed beyond the calls themselves, because AWS checks them as part of those calls. */
const IMPLIED = new Set([
  'ecs:TagResource', // CreateCluster/CreateService/RegisterTaskDefinition with tags
  'logs:TagResource', // CreateLogGroup with tags
  'dynamodb:TagResource', // CreateTable with tags
  'ssm:AddTagsToResource', // PutParameter with tags
  'dynamodb:ConditionCheckItem', // condition checks inside TransactWriteItems
  'iam:PassRole', // RegisterTaskDefinition with an execution role
]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Every AWS action the code can call: `XCommand` imported (not as a type) from an SDK package. */
function actionsInCode(): Set<string> {
  const actions = new Set<string>();
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/([a-z0-9-]+)'/g)) {
      const prefix = PREFIXES[match[2]!];
      if (!prefix) continue;
      for (const raw of match[1]!.split(',')) {
        const name = raw.trim();
        if (!name || name.startsWith('type ')) continue;
        const command = name.match(/^([A-Z][A-Za-z]+)Command$/)?.[1];
        if (!command) continue;
        const action = match[2] === 'lib-dynamodb' ? (DOCUMENT_CLIENT[command] ?? command) : command;
        actions.add(`${prefix}:${action}`);
      }
    }
  }
  return actions;
}

function actionsInPolicy(): Set<string> {
  const policy = JSON.parse(readFileSync(join(ROOT, 'docs', 'aws-iam-policy.json'), 'utf8')) as {
    Statement: { Effect: string; Action: string | string[] }[];
  };
  const actions = new Set<string>();
  for (const statement of policy.Statement) {
    expect(statement.Effect).toBe('Allow');
    for (const action of [statement.Action].flat()) {
      expect(action, 'no wildcards: least privilege').not.toMatch(/\*/);
      actions.add(action);
    }
  }
  return actions;
}

describe('the IAM policy berth documents', () => {
  it('allows every AWS call the code makes, and nothing it does not', () => {
    const code = actionsInCode();
    const policy = actionsInPolicy();
    expect(code.size).toBeGreaterThan(40);
    expect(
      [...code].filter((action) => !policy.has(action)).sort(),
      'calls the policy does not allow',
    ).toEqual([]);
    expect(
      [...policy].filter((action) => !code.has(action) && !IMPLIED.has(action)).sort(),
      'actions the code never calls',
    ).toEqual([]);
  });
});
