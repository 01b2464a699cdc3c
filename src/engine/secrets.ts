/**
 * The values behind `secrets:` in berth.yaml, one store per environment: the local runtime's
 * 0600 store in the data dir, or SSM Parameter Store on AWS. Values go in and never come out
 * (listing gives names and times); replicas and tasks read them when they start. Setting and
 * removing are audited with the secret's name, never its value. `berth secret` uses these
 * directly (--direct) and the API's secrets routes use them for a CLI that talks to the API.
 */
import { UserError } from '../core/errors.js';
import { SECRET_NAME_PATTERN } from '../spec/service-schema.js';
import type { EnvironmentConfig } from '../spec/types.js';
import type { StateStore } from '../state/store.js';
import { audited, type Actor } from './guard.js';

export interface SecretListing {
  name: string;
  updatedAt: string | null;
}

/** Where an environment's values live; values go in, never come out. */
export interface SecretStore {
  /** For messages, before the environment name: "the local secret store", "SSM Parameter Store (eu-west-1)". */
  describe: string;
  list(): Promise<SecretListing[]>;
  set(name: string, value: string): Promise<void>;
  /** False when it did not exist. */
  remove(name: string): Promise<boolean>;
}

/** The longest value berth stores: SSM's limit for a standard SecureString parameter (4 KB). */
export const MAX_SECRET_VALUE_LENGTH = 4096;

export async function secretStoreFor(env: EnvironmentConfig, dataDir: string): Promise<SecretStore> {
  if (env.provider === 'aws') {
    const { ssmSecretBackend } = await import('../providers/aws/secrets.js');
    return ssmSecretBackend(env);
  }
  const { LocalSecretStore } = await import('../runtime/secret-store.js');
  const store = LocalSecretStore.forDataDir(dataDir);
  return {
    describe: 'the local secret store',
    list: async () => store.list(env.name),
    set: async (name, value) => store.set(env.name, name, value),
    remove: async (name) => store.remove(env.name, name),
  };
}

export function checkSecretName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new UserError(`"${name}" is not a valid secret name`, {
      hint: 'use letters, digits and _ . - / : + = @, e.g. db-url',
    });
  }
}

/** The problems of a value, without ever quoting it. */
export function checkSecretValue(name: string, value: string): void {
  if (value.length === 0) {
    throw new UserError(`no value given for ${name}`, {
      hint: `pipe it in (e.g. \`berth secret set ${name} --env E < file\`) or type it at the prompt`,
    });
  }
  if (value.includes('\0')) throw new UserError(`the value for ${name} contains a NUL character`);
  if (value.length > MAX_SECRET_VALUE_LENGTH) {
    throw new UserError(
      `the value for ${name} is ${value.length} characters; berth stores at most ${MAX_SECRET_VALUE_LENGTH}`,
      { hint: 'keep large material (certificates, key rings) in a file or bucket the service fetches' },
    );
  }
}

/** What `berth secret` does in one environment, each change audited in its own store. */
export interface SecretActions {
  list(): Promise<SecretListing[]>;
  /** Resolves to where the value now lives (SecretStore.describe). */
  set(name: string, value: string): Promise<string>;
  /** Resolves to where it was; NotFound (exit 2, 404) when there is no such secret. */
  remove(name: string): Promise<string>;
}

export function secretActions(
  state: StateStore,
  env: EnvironmentConfig,
  secrets: SecretStore,
  actor: Actor,
  identity: string | null,
): SecretActions {
  const entry = (action: string, name: string) => ({
    actor,
    env: env.name,
    identity: () => identity,
    action,
    args: { secret: name },
  });
  return {
    list: () => secrets.list(),
    async set(name, value) {
      return audited(
        state,
        entry('secret set', name),
        async () => {
          checkSecretName(name);
          checkSecretValue(name, value);
          await secrets.set(name, value);
          return secrets.describe;
        },
        () => 'succeeded',
      );
    },
    async remove(name) {
      return audited(
        state,
        entry('secret rm', name),
        async () => {
          checkSecretName(name);
          if (!(await secrets.remove(name))) {
            throw new UserError(`there is no secret named "${name}" in ${env.name}`, {
              code: 'not_found',
              hint: `see berth secret ls --env ${env.name}`,
            });
          }
          return secrets.describe;
        },
        () => 'succeeded',
      );
    },
  };
}
