/**
 * `berth install --env E`: deploys berth's own control plane into an environment as the service
 * `berth`, through the ordinary engine (so it is healed, audited and recoverable like anything
 * else), and saves a context naming its stable URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { CommandSpec } from '../registry.js';
import { UserError } from '../../core/errors.js';
import { PACKAGE_ROOT } from '../../core/package-root.js';
import { ANY_ENV, ensureLocalAdminToken } from '../../api/tokens.js';
import {
  CONTROL_PLANE_SERVICE,
  controlPlaneSpec,
  controlPlaneUrl,
  DEFAULT_CONTROL_PLANE_REPLICAS,
} from '../../engine/self-host.js';
import type { Provider } from '../../providers/provider.js';
import type { BerthConfig, EnvironmentConfig, ServiceSpec } from '../../spec/types.js';
import { checkContextName, readContexts, saveContext } from '../contexts.js';
import { withEnvironment } from '../environment.js';
import { printJson } from '../output.js';
import { parsePositiveInt, parseSeconds, requireControlPlaneEnv } from '../parse.js';
import { progressRenderer } from '../render/progress.js';

/** bin/berth.js of this installation: what each local replica runs. */
const BERTH_ENTRY = join(PACKAGE_ROOT, 'bin', 'berth.js');

/** The host names (with the proxy's port locally) the API must answer to. */
function allowedHosts(
  provider: Provider,
  env: EnvironmentConfig,
  spec: ServiceSpec,
  urls: string[],
): string[] {
  if (env.provider === 'local') return urls.map((url) => new URL(url).host);
  return provider.hostnames(spec, env);
}

/**
 * The token an AWS control plane accepts: its replicas share no disk, so the token file (hashes
 * only) travels in the task definition; the token itself stays with the CLI, in the context.
 * A context of an earlier install keeps its token, so that installing again changes nothing.
 */
function awsAdminToken(
  dataDir: string,
  envName: string,
): { token: string; tokensFile: string; createdAt: string } {
  const previous = readContexts(dataDir).contexts.find((c) => c.env === envName && c.token);
  const token = previous?.token ?? `berth_${randomBytes(32).toString('base64url')}`;
  const hash = createHash('sha256').update(token, 'utf8').digest('hex');
  // Every field is derived from the token: the same token gives the same spec (no new revision).
  const record = {
    id: `tok_${hash.slice(0, 16)}`,
    name: `install-${envName}`,
    hash,
    roles: { [ANY_ENV]: 'admin' },
    createdAt: previous?.createdAt ?? new Date().toISOString(),
  };
  return { token, tokensFile: JSON.stringify({ tokens: [record] }), createdAt: record.createdAt };
}

/** The environments an AWS control plane hosts: the AWS ones (it cannot reach a local runtime). */
function awsConfig(config: BerthConfig): string {
  const environments = Object.fromEntries(
    Object.values(config.environments)
      .filter((env) => env.provider === 'aws')
      .map(({ name, ...rest }) => [name, rest]),
  );
  return JSON.stringify({ environments });
}

export const installCommand: CommandSpec = {
  name: 'install',
  summary: 'deploy berth\'s own control plane into an environment as the service "berth" (2+ replicas)',
  options: [
    {
      flags: '--replicas <n>',
      description: 'control plane replicas',
      defaultValue: String(DEFAULT_CONTROL_PLANE_REPLICAS),
    },
    { flags: '--image <image>', description: "berth's container image (AWS; build it from the Dockerfile)" },
    { flags: '--domain <host...>', description: 'extra host names for the API besides berth.<env>.<domain>' },
    { flags: '--name <context>', description: 'the context to save (default: the environment name)' },
    {
      flags: '--health-timeout <seconds>',
      description: 'how long new replicas may take to become healthy',
      defaultValue: '60',
    },
  ],
  help: [
    'Each replica runs `berth up`: locally bound to its $PORT against this data dir (the replicas are',
    "peers sharing the state store); on AWS an ECS service running berth's image behind the ALB.",
    'It has deletion protection and is healed by any control plane that holds the lease. Its revision',
    'is kept in the state store: `berth recover --env E` brings it back without any berth.yaml.',
    'Installing again with the same options changes nothing; other options roll out a new revision.',
    'Examples:',
    '  berth install --env production',
    '  berth install --env aws-prod --image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/berth:0.1.0',
  ].join('\n'),
  async run({ options, globals, io }) {
    const envName = requireControlPlaneEnv(globals, 'e.g. berth install --env production');
    const replicas = parsePositiveInt(options.replicas, '--replicas');
    const healthDeadlineMs = parseSeconds(options.healthTimeout, '--health-timeout') * 1000;
    const contextName = checkContextName((options.name as string | undefined) ?? envName);
    if (replicas < 2) {
      io.err(
        io.color.yellow(
          'warning: with 1 replica the API is down while that replica is replaced; 2 or more keep it answering',
        ),
      );
    }
    return withEnvironment(globals, io, { mutating: true }, async ({ config, env, provider, engine }) => {
      const domains = (options.domain as string[] | undefined) ?? [];
      let awsToken: string | null = null;
      let tokenCreatedAt: string | undefined;
      const build = (allowHosts: string[]): ServiceSpec => {
        if (env.provider === 'local') {
          return controlPlaneSpec({
            env,
            replicas,
            domains,
            allowHosts,
            local: { node: process.execPath, entry: BERTH_ENTRY, dataDir: globals.dataDir },
          });
        }
        const image = options.image as string | undefined;
        if (!image) {
          throw new UserError(`--image is required to install berth in ${env.name} (provider aws)`, {
            hint: 'build and push it from the Dockerfile at the repository root: docker build -t REGISTRY/berth:VERSION . && docker push REGISTRY/berth:VERSION',
          });
        }
        const { token, tokensFile, createdAt } = awsAdminToken(globals.dataDir, env.name);
        awsToken = token;
        tokenCreatedAt = createdAt;
        const spec = controlPlaneSpec({
          env,
          replicas,
          domains,
          allowHosts,
          aws: { image, config: awsConfig(config) },
        });
        spec.env.BERTH_TOKENS = tokensFile;
        return spec;
      };
      // The names it answers at come from the provider, for the spec that names them.
      const draft = build([]);
      const spec = build(allowedHosts(provider, env, draft, await provider.urls(draft, env)));
      const { operation, urls } = await engine(progressRenderer(io)).deploy(spec, {
        healthDeadlineMs,
        noRollback: false,
      });
      const ok = operation.status === 'succeeded';
      const url = await controlPlaneUrl(provider, env, spec);
      const token = env.provider === 'local' ? ensureLocalAdminToken(globals.dataDir) : awsToken;
      if (ok) {
        saveContext(globals.dataDir, {
          name: contextName,
          url,
          token,
          env: env.name,
          createdAt: tokenCreatedAt,
        });
      }
      if (globals.json) {
        printJson(io, {
          service: CONTROL_PLANE_SERVICE,
          env: env.name,
          status: operation.status,
          revision: operation.revision,
          url,
          context: ok ? contextName : null,
          urls,
          operation,
        });
      } else if (ok) {
        io.out(
          `berth's control plane is live in ${env.name} (revision ${operation.revision}, ${replicas} replicas):`,
        );
        io.out(`  api:     ${url}`);
        io.out(`  context: ${contextName} (current: the CLI talks to it from now on; berth context ls)`);
        if (env.provider !== 'local') {
          io.out(`  token:   saved in the context (admin in every environment it hosts)`);
        }
        io.err(
          io.color.dim(
            `if it is ever gone, the CLI says so and brings it back with: berth recover --env ${env.name}`,
          ),
        );
      } else {
        io.out(`${CONTROL_PLANE_SERVICE}: install ${operation.status}: ${operation.error}`);
        io.err(io.color.dim(`next: berth events ${CONTROL_PLANE_SERVICE} --env ${env.name} --direct`));
      }
      return ok ? 0 : 1;
    });
  },
};
