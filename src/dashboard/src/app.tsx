/**
 * The dashboard: sign-in, the environment bar (always visible), and the three views (services,
 * a service, the timeline), chosen by the URL fragment: #/e/ENV, #/e/ENV/s/SERVICE,
 * #/e/ENV/timeline. A sign-in link's fragment (#code=...&env=...) is read once, exchanged by
 * POST for a session cookie, and removed from the address bar and history.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, envPath, get, whenSignedOut } from './api';
import { envColor } from './format';
import { EnvLive } from './live';
import { ServiceList } from './services';
import { ServiceView } from './service';
import { TimelineView } from './timeline';
import type { Environment, Session, WhoAmI } from './types';

type Route = { env: string | null; view: 'services' | 'service' | 'timeline'; service: string | null };

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] !== 'e' || !parts[1]) return { env: null, view: 'services', service: null };
  if (parts[2] === 's' && parts[3]) return { env: parts[1], view: 'service', service: parts[3] };
  if (parts[2] === 'timeline') return { env: parts[1], view: 'timeline', service: null };
  return { env: parts[1], view: 'services', service: null };
}

export function href(env: string, ...rest: string[]): string {
  return `#/${['e', env, ...rest].map(encodeURIComponent).join('/')}`;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return hash;
}

/** The live picture of `env`, re-rendering the caller on every change. */
function useLive(env: string | null): EnvLive | null {
  const live = useMemo(() => (env ? new EnvLive(env) : null), [env]);
  const [, setVersion] = useState(0);
  useEffect(() => {
    if (!live) return;
    const unsubscribe = live.subscribe(() => setVersion(live.version));
    void live.start();
    return () => {
      unsubscribe();
      live.stop();
    };
  }, [live]);
  return live;
}

type SignIn =
  { state: 'checking' } | { state: 'signed-out'; error: string | null } | { state: 'in'; session: Session };

export function App() {
  const [signIn, setSignIn] = useState<SignIn>({ state: 'checking' });
  const [envs, setEnvs] = useState<Environment[] | null>(null);
  const hash = useHash();

  useEffect(() => {
    void (async () => {
      const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
      const code = fragment.get('code');
      let error: string | null = null;
      if (code) {
        const env = fragment.get('env');
        // The code is useless once exchanged; remove it from the address bar and history anyway.
        history.replaceState(null, '', `${location.pathname}${env ? href(env) : ''}`);
        await api('POST', '/v1/session/exchange', { code }).catch((e: unknown) => {
          error = e instanceof ApiError ? `${e.message}${e.body.hint ? ` (${e.body.hint})` : ''}` : String(e);
        });
        dispatchEvent(new HashChangeEvent('hashchange'));
      }
      try {
        setSignIn({ state: 'in', session: await get<Session>('/v1/session') });
      } catch {
        setSignIn({ state: 'signed-out', error });
      }
      // From now on, a 401 means the session ended (expired, revoked, signed out elsewhere).
      whenSignedOut(() => setSignIn({ state: 'signed-out', error: 'your session has ended: sign in again' }));
    })();
  }, []);

  useEffect(() => {
    if (signIn.state !== 'in') return;
    get<Environment[]>('/v1/envs').then(setEnvs, () => setEnvs([]));
  }, [signIn.state]);

  const route = parseRoute(hash);
  const envName =
    route.env ??
    envs?.find((env) => env.name === 'local')?.name ??
    envs?.find((env) => !env.protected)?.name ??
    envs?.[0]?.name ??
    null;
  const env = envs?.find((candidate) => candidate.name === envName) ?? null;
  const live = useLive(signIn.state === 'in' && env ? env.name : null);

  useEffect(() => {
    document.title = env ? `${env.protected ? '[PROTECTED] ' : ''}${env.name} · berth` : 'berth';
  }, [env?.name]);

  if (signIn.state === 'checking') return <p class="loading">berth: signing in…</p>;
  if (signIn.state === 'signed-out')
    return <SignInPage error={signIn.error} onSignedIn={(session) => setSignIn({ state: 'in', session })} />;
  if (envs === null) return <p class="loading">loading environments…</p>;
  if (!env || !live) {
    return (
      <main class="page">
        <h1>berth</h1>
        <p class="error">
          {route.env
            ? `"${route.env}" is not an environment ${signIn.session.actor} has a role in.`
            : `${signIn.session.actor} has no role in any environment.`}{' '}
          {envs.length > 0 && (
            <>
              Environments:{' '}
              {envs.map((e) => (
                <a key={e.name} href={href(e.name)}>
                  {e.name}{' '}
                </a>
              ))}
            </>
          )}
        </p>
      </main>
    );
  }
  return (
    <Shell
      key={env.name}
      env={env}
      envs={envs}
      session={signIn.session}
      live={live}
      route={route}
      onSignOut={() => setSignIn({ state: 'signed-out', error: null })}
    />
  );
}

function Shell(props: {
  env: Environment;
  envs: Environment[];
  session: Session;
  live: EnvLive;
  route: Route;
  onSignOut: () => void;
}) {
  const { env, live, route } = props;
  // Read-only until the user unlocks changes, per environment and page load.
  const [unlocked, setUnlocked] = useState(false);
  const canChange = env.role === 'deployer' || env.role === 'admin';
  return (
    <>
      <EnvBar {...props} unlocked={unlocked} canChange={canChange} onToggle={() => setUnlocked(!unlocked)} />
      <nav class="tabs">
        <a href={href(env.name)} class={route.view !== 'timeline' ? 'active' : ''}>
          Services
        </a>
        <a href={href(env.name, 'timeline')} class={route.view === 'timeline' ? 'active' : ''}>
          Timeline
        </a>
      </nav>
      <main class="page">
        {route.view === 'timeline' ? (
          <TimelineView env={env} />
        ) : route.view === 'service' && route.service ? (
          <ServiceView env={env} live={live} name={route.service} changes={unlocked && canChange} />
        ) : (
          <ServiceList env={env} live={live} />
        )}
      </main>
    </>
  );
}

function EnvBar(props: {
  env: Environment;
  envs: Environment[];
  session: Session;
  live: EnvLive;
  unlocked: boolean;
  canChange: boolean;
  onToggle: () => void;
  onSignOut: () => void;
}) {
  const { env, live } = props;
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [whoError, setWhoError] = useState<string | null>(null);
  useEffect(() => {
    get<WhoAmI>(envPath(env.name, 'whoami')).then(setWho, (error: unknown) =>
      setWhoError(error instanceof Error ? error.message : String(error)),
    );
  }, [env.name]);
  const signOut = async () => {
    await api('DELETE', '/v1/session').catch(() => undefined);
    props.onSignOut();
  };
  return (
    <header
      class={`envbar${env.protected ? ' protected' : ''}`}
      style={{ '--env-color': envColor(env.color) }}
      data-testid="envbar"
      data-env={env.name}
      data-protected={String(env.protected)}
    >
      <div class="env-name">
        <span class="label">environment</span>
        <strong data-testid="env-name">{env.name}</strong>
        {env.protected && (
          <span
            class="badge protected-badge"
            data-testid="env-protected"
            title="changes need the environment's name typed"
          >
            PROTECTED
          </span>
        )}
      </div>
      <div class="identity" data-testid="env-identity">
        {who ? (
          <>
            <span class="label">verified identity</span> <strong>{who.identity}</strong>{' '}
            <span class="dim">{who.description}</span>
          </>
        ) : whoError ? (
          <span class="warn">identity not verified: {whoError}</span>
        ) : (
          <span class="dim">verifying identity…</span>
        )}
      </div>
      <div class="who">
        <span class="label">signed in as</span> <strong>{props.session.actor}</strong> ({env.role})
      </div>
      <div class="controls">
        <span
          class={`conn ${live.connection}`}
          data-testid="connection"
          title={`the live event stream: ${live.connection}`}
        >
          {live.connection === 'live' ? '●' : '○'}
          <span class="conn-text">
            {live.connection === 'live'
              ? ' live'
              : live.connection === 'connecting'
                ? ' connecting'
                : ' reconnecting…'}
          </span>
        </span>
        <select
          aria-label="environment"
          value={env.name}
          onChange={(event) => (location.hash = href((event.currentTarget as HTMLSelectElement).value))}
        >
          {props.envs.map((e) => (
            <option key={e.name} value={e.name}>
              {e.name}
              {e.protected ? ' (protected)' : ''}
            </option>
          ))}
        </select>
        {props.canChange && (
          <button
            type="button"
            class={props.unlocked ? 'unlocked' : ''}
            data-testid="toggle-changes"
            onClick={props.onToggle}
            title="the page is read-only until you allow changes"
          >
            {props.unlocked ? 'changes allowed' : 'read-only'}
          </button>
        )}
        <button type="button" onClick={() => void signOut()}>
          sign out
        </button>
      </div>
    </header>
  );
}

function SignInPage(props: { error: string | null; onSignedIn: (session: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(props.error);
  useEffect(() => setError(props.error), [props.error]);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      // By POST, in the body: a token never appears in a URL.
      await api('POST', '/v1/session/exchange', { token: token.trim() });
      setToken('');
      props.onSignedIn(await get<Session>('/v1/session'));
    } catch (e) {
      setError(e instanceof ApiError ? `${e.message}${e.body.hint ? ` (${e.body.hint})` : ''}` : String(e));
    }
  };
  return (
    <main class="page signin">
      <h1>berth</h1>
      <p>
        Run <code>berth dashboard --env ENV</code> on this machine and open the link it prints (it works once,
        within 2 minutes), or paste an API token:
      </p>
      <form onSubmit={(event) => void submit(event)}>
        <input
          type="password"
          autocomplete="off"
          aria-label="API token"
          placeholder="berth_…"
          value={token}
          onInput={(event) => setToken((event.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" disabled={!token.trim()}>
          Sign in
        </button>
      </form>
      {error && (
        <p class="error" data-testid="signin-error">
          {error}
        </p>
      )}
    </main>
  );
}
