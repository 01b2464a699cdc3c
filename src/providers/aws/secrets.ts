/**
 * Secrets on AWS: SSM Parameter Store SecureString parameters, referenced from the task
 * definition's `secrets` so that ECS reads them when a task starts (berth never reads a value
 * back). A secret name in berth.yaml is either berth's own (`db-url`, stored as
 * `/berth/<env>/db-url`), a parameter name of yours (`/shop/db-url`), or an SSM or Secrets
 * Manager ARN, used as it is. The task execution role needs ssm:GetParameters (and
 * secretsmanager:GetSecretValue, kms:Decrypt for a customer key) on them.
 */
import {
  DeleteParameterCommand,
  GetParametersByPathCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';

import { UserError } from '../../core/errors.js';
import type { EnvironmentConfig } from '../../spec/types.js';
import { awsErrorName, clientConfig, prepareClient, type AwsConnection } from './clients.js';
import { awsSettings, connectionFor } from './shared.js';

/** Where berth keeps an environment's own secrets in Parameter Store. */
export function secretPrefix(env: string): string {
  return `/berth/${env}/`;
}

/** The SSM parameter name of a secret name from berth.yaml (an ARN is not a parameter name). */
export function parameterName(env: string, name: string): string {
  return name.startsWith('/') ? name : `${secretPrefix(env)}${name}`;
}

/** What the task definition's `valueFrom` holds for a secret: a full ARN, as ECS wants across regions. */
export function secretValueFrom(
  settings: { env: string; region: string; accountId: string },
  name: string,
): string {
  if (name.startsWith('arn:')) return name;
  return `arn:aws:ssm:${settings.region}:${settings.accountId}:parameter${parameterName(settings.env, name)}`;
}

export function createSsmClient(connection: AwsConnection): SSMClient {
  return prepareClient(new SSMClient(clientConfig(connection)), 'ssm', connection);
}

/** `berth secret set|ls|rm` on an AWS environment: berth's own parameters under /berth/<env>/. */
export function ssmSecretBackend(env: EnvironmentConfig, connection?: AwsConnection) {
  const settings = awsSettings(env);
  const client = createSsmClient(connection ?? connectionFor(settings));
  const prefix = secretPrefix(env.name);
  const ownName = (name: string) => {
    if (name.startsWith('arn:')) {
      throw new UserError(`"${name}" is an ARN: berth sets only parameters it names itself`, {
        hint: 'set it with the AWS console or CLI, and refer to the ARN in secrets:',
      });
    }
    return parameterName(env.name, name);
  };
  return {
    describe: `SSM Parameter Store (${settings.region})`,
    async list() {
      const out: { name: string; updatedAt: string | null }[] = [];
      let NextToken: string | undefined;
      do {
        // Values stay encrypted: berth lists names only.
        const page = await client.send(
          new GetParametersByPathCommand({ Path: prefix, Recursive: true, WithDecryption: false, NextToken }),
        );
        for (const parameter of page.Parameters ?? []) {
          out.push({
            name: (parameter.Name ?? '').slice(prefix.length),
            updatedAt: parameter.LastModifiedDate?.toISOString() ?? null,
          });
        }
        NextToken = page.NextToken;
      } while (NextToken);
      return out.sort((a, b) => a.name.localeCompare(b.name));
    },
    async set(name: string, value: string) {
      await client.send(
        new PutParameterCommand({ Name: ownName(name), Value: value, Type: 'SecureString', Overwrite: true }),
      );
    },
    async remove(name: string) {
      try {
        await client.send(new DeleteParameterCommand({ Name: ownName(name) }));
        return true;
      } catch (error) {
        if (awsErrorName(error) === 'ParameterNotFound') return false;
        throw error;
      }
    },
  };
}
