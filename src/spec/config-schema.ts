/** The berth.config.yaml schema: the environments berth can deploy to. Defaults are filled in environments.ts. */
import * as z from 'zod';

import { matchRule, type FieldRule, type Path } from './diagnostics.js';
import { checked, isHostName, mustBe, nullAs } from './schema-helpers.js';
import { durationSchema } from './service-schema.js';

export const ENVIRONMENT_COLORS = ['red', 'yellow', 'green', 'cyan', 'blue', 'magenta', 'white'] as const;

const hostName = checked((value, report): string => {
  if (typeof value !== 'string' || !isHostName(value)) {
    report(mustBe('a host name', value), 'e.g. localhost or apps.example.com, without a scheme or port');
  }
  return String(value);
});
const nonEmpty = z.string().min(1);

/** accountId: 12 digits; a YAML number of 12 digits is accepted (leading zeros cannot survive as a number). */
const accountIdSchema = checked((value, report): string => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text === 'string' && /^\d{12}$/.test(text)) return text;
  const hint =
    typeof value === 'number'
      ? "quote it: accountId: '012345678901' (unquoted digits are a number and lose leading zeros)"
      : "the 12-digit AWS account id, quoted: accountId: '123456789012'";
  report(value === undefined ? 'is required' : mustBe('a 12-digit AWS account id', value), hint);
  return '';
});

export const awsSettingsSchema = z.strictObject({
  accountId: accountIdSchema,
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/),
  cluster: nonEmpty.optional(),
  listenerArn: z.string().startsWith('arn:').optional(),
  hostedZoneId: z
    .string()
    .regex(/^[A-Za-z0-9]{1,32}$/)
    .optional(),
  domain: hostName.optional(),
  table: nonEmpty.optional(),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  subnets: z.array(nonEmpty).optional(),
  securityGroups: z.array(nonEmpty).optional(),
  albArn: z.string().startsWith('arn:').optional(),
  vpcId: nonEmpty.optional(),
  executionRoleArn: z.string().startsWith('arn:').optional(),
});

export const localSettingsSchema = z.strictObject({ domain: hostName.optional() });

export const environmentSchema = z.strictObject({
  provider: z.enum(['local', 'aws']),
  protected: z.boolean().optional(),
  color: z.enum(ENVIRONMENT_COLORS).optional(),
  drift: z.enum(['heal', 'report']).optional(),
  resync: durationSchema(100).optional(),
  local: nullAs({}, localSettingsSchema).optional(),
  aws: awsSettingsSchema.optional(),
  identity: nonEmpty.optional(),
});

export const configFileSchema = z.strictObject({
  environments: z.record(z.string(), environmentSchema),
});

export type ConfigFile = z.output<typeof configFileSchema>;
export type EnvironmentEntry = z.output<typeof environmentSchema>;

const CONFIG_RULES: Record<string, FieldRule> = {
  environments: {
    message: 'must be a mapping of environment name to settings',
    hint: 'e.g. environments: { local: { provider: local } }',
  },
  'environments.*': { message: 'must be a mapping of settings', hint: 'e.g. staging: { provider: local }' },
  'environments.*.provider': {
    message: 'must be "local" or "aws"',
    hint: 'local runs services on this machine; aws deploys them to an AWS account',
  },
  'environments.*.protected': {
    message: 'must be true or false',
    hint: 'true makes destructive commands need --env written out and a typed confirmation',
  },
  'environments.*.color': {
    message: `must be one of ${ENVIRONMENT_COLORS.join(', ')}`,
    hint: 'the colour of the banner that names the environment in every command',
  },
  'environments.*.drift': {
    message: 'must be "heal" or "report"',
    hint: 'heal repairs drift automatically (the default); report only shows it',
  },
  'environments.*.resync': {
    message: 'must be a duration',
    hint: 'how often the reconciler lists everything in the environment, e.g. resync: 10s (default 5s local, 30s aws)',
  },
  'environments.*.local': { message: 'must be a mapping', hint: 'e.g. local: { domain: localhost }' },
  'environments.*.local.domain': { message: 'must be a host name', hint: 'e.g. domain: localhost' },
  'environments.*.aws': {
    message: 'must be a mapping',
    hint: "e.g. aws: { accountId: '123456789012', region: eu-west-1 }",
  },
  'environments.*.aws.region': { message: 'must be an AWS region', hint: 'e.g. region: eu-west-1' },
  'environments.*.aws.cluster': { message: 'must be an ECS cluster name' },
  'environments.*.aws.listenerArn': {
    message: 'must be an ARN',
    hint: 'the ALB listener ARN, starting with "arn:"',
  },
  'environments.*.aws.hostedZoneId': {
    message: 'must be a Route 53 hosted zone id',
    hint: 'e.g. Z0123456789ABC',
  },
  'environments.*.aws.domain': { message: 'must be a host name', hint: 'e.g. domain: apps.example.com' },
  'environments.*.aws.table': { message: 'must be a DynamoDB table name' },
  'environments.*.aws.endpoint': {
    message: 'must be an http(s) URL',
    hint: 'only for AWS-compatible test servers, e.g. http://127.0.0.1:5000',
  },
  'environments.*.aws.subnets': { message: 'must be a list of subnet ids' },
  'environments.*.aws.subnets.*': { message: 'must be a subnet id' },
  'environments.*.aws.securityGroups': { message: 'must be a list of security group ids' },
  'environments.*.aws.securityGroups.*': { message: 'must be a security group id' },
  'environments.*.aws.albArn': { message: 'must be an ARN', hint: 'the ALB ARN, starting with "arn:"' },
  'environments.*.aws.vpcId': { message: 'must be a VPC id', hint: 'e.g. vpc-0123456789abcdef0' },
  'environments.*.aws.executionRoleArn': {
    message: 'must be an ARN',
    hint: 'the ECS task execution role ARN, starting with "arn:aws:iam::"',
  },
  'environments.*.identity': {
    message: 'must be a string',
    hint: 'the identity this environment must run as: the AWS account id, or the local runtime id',
  },
};

export function configRuleFor(path: Path): FieldRule | undefined {
  return matchRule(CONFIG_RULES, path);
}

export function configKnownKeysAt(objectPath: Path): readonly string[] {
  const shape = objectPath.length === 0 ? configFileSchema.shape : undefined;
  if (shape) return Object.keys(shape);
  if (objectPath[0] !== 'environments') return [];
  if (objectPath.length === 2) return Object.keys(environmentSchema.shape);
  if (objectPath.length === 3 && objectPath[2] === 'aws') return Object.keys(awsSettingsSchema.shape);
  if (objectPath.length === 3 && objectPath[2] === 'local') return Object.keys(localSettingsSchema.shape);
  return [];
}

export function configUnknownKeyHint(objectPath: Path, key: string): string | undefined {
  if (objectPath.length === 2 && ['colour', 'protect'].includes(key)) {
    return `did you mean "${key === 'colour' ? 'color' : 'protected'}"?`;
  }
  if (objectPath.length === 2 && ['accountId', 'region', 'cluster'].includes(key)) {
    return `did you mean "aws.${key}"?`;
  }
  if (objectPath.length === 2 && key === 'domain') return 'did you mean "local.domain" or "aws.domain"?';
  if (objectPath.length === 0 && closeToEnvironmentSettings(key)) {
    return 'environments go under "environments:", e.g. environments: { staging: { provider: local } }';
  }
  return undefined;
}

function closeToEnvironmentSettings(key: string): boolean {
  return ['local', 'staging', 'production', 'prod', 'dev'].includes(key);
}
