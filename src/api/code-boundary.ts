/**
 * The code-execution boundary of the API. A deploy chooses a program and runs it. When that
 * program would run with berth's own privileges on berth's own machine (the local runtime
 * without a separate replica user), it can read berth's data dir: the admin token, the runtime
 * console's token, every token hash and every service's environment. Choosing what runs is then
 * the same power as being admin, so only an admin may do it; a deployer may still redeploy,
 * scale, and change everything else about a service whose `run` an admin chose.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ServiceSpec } from '../spec/types.js';
import { HttpError } from './errors.js';
import type { OpenEnv } from './control-plane.js';
import { roleIn, type Principal } from './tokens.js';

/** The spec the service runs now, or null for a new service. */
async function currentSpec(open: OpenEnv, service: string): Promise<ServiceSpec | null> {
  const record = await open.store.getService(open.env.name, service);
  if (!record || record.status !== 'active' || record.currentRevision === null) return null;
  return (await open.store.getRevision(open.env.name, service, record.currentRevision))?.spec ?? null;
}

/**
 * What decides which code runs: the program, where, the loader variables it may be given, and
 * their values (NODE_OPTIONS=--require /some/file.js runs that file as surely as `run` does).
 */
function codeOf(spec: ServiceSpec) {
  const allowLoaderEnv = [...(spec.allowLoaderEnv ?? [])].sort();
  return {
    run: spec.run,
    allowLoaderEnv,
    loaderValues: allowLoaderEnv.map((name) => ({
      name,
      value: spec.env[name] ?? null,
      secret: spec.secrets?.[name] ?? null,
    })),
  };
}

/** The loader variables whose value or secret differs between two specs (values never shown). */
function changedLoaderValues(current: ServiceSpec | null, next: ServiceSpec): string[] {
  const before = new Map(current ? codeOf(current).loaderValues.map((entry) => [entry.name, entry]) : []);
  return codeOf(next)
    .loaderValues.filter((entry) => {
      const old = before.get(entry.name);
      return !old || old.value !== entry.value || old.secret !== entry.secret;
    })
    .map((entry) => entry.name);
}

/** Throws 403 when a non-admin would choose a program that runs with berth's privileges. */
export async function assertMayChooseCode(
  principal: Principal,
  open: OpenEnv,
  spec: ServiceSpec,
): Promise<void> {
  if (roleIn(principal, open.env.name) === 'admin' || !spec.run) return;
  if (!(await open.provider.runsCodeWithBerthPrivileges?.())) return;
  const currentFull = await currentSpec(open, spec.name);
  if (currentFull && isDeepStrictEqual(codeOf(currentFull), codeOf(spec))) return;
  const current = currentFull?.run;
  throw new HttpError(
    403,
    'code_change_needs_admin',
    current
      ? `token "${principal.name}" may not change what ${spec.name} runs in ${open.env.name}: that needs admin`
      : `token "${principal.name}" may not deploy the new service ${spec.name} to ${open.env.name}: choosing what runs needs admin`,
    {
      details: [
        `run: ${JSON.stringify(spec.run.command)} in ${spec.run.cwd}`,
        ...(current && !isDeepStrictEqual(current, spec.run)
          ? [`now: ${JSON.stringify(current.command)} in ${current.cwd}`]
          : []),
        ...(spec.allowLoaderEnv?.length ? [`allowLoaderEnv: ${spec.allowLoaderEnv.join(', ')}`] : []),
        ...(currentFull
          ? changedLoaderValues(currentFull, spec).map(
              (name) => `${name} changes: a loader variable decides what code runs too`,
            )
          : []),
        `the local runtime runs replicas as its own user, so they could read berth's data dir (its tokens included)`,
      ],
      hint: 'ask an admin to deploy this change, or run the runtime as root with --replica-user (e.g. nobody) so that replicas are isolated',
      exitCode: 3,
    },
  );
}
