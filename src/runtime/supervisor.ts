import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { sleep } from '../core/clock.js';
import { ReplicaHealthProber } from './replica-health.js';
import { isProcessAlive, processArgv } from './files.js';
import { replicaLogPath, type RuntimePaths } from './paths.js';
import { replicaEnvironment, type ReplicaUser } from './replica-process.js';
import { LocalSecretStore } from './secret-store.js';
import type { RuntimeStore, StoredService } from './store.js';
import type { ReplicaState, ReplicaStatus } from './types.js';

export const LOG_CAP_BYTES = 5 * 1024 * 1024;
const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 10_000;
const BACKOFF_RESET_AFTER_MS = 10_000;
const KILL_AFTER_MS = 5_000;

export interface SupervisorOptions {
  /** Time a draining replica keeps serving in-flight requests before SIGTERM. */
  drainMs?: number;
  log?: (message: string) => void;
  /** Run replicas as this unprivileged user (the runtime must be root); null: as the runtime's user. */
  replicaUser?: ReplicaUser | null;
}

/** A free TCP port on loopback (the OS picks one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on this loopback port. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.on('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Copy the file to `<file>.1` and truncate it when it exceeds the cap (writers use O_APPEND). */
export function capLogFile(path: string, cap = LOG_CAP_BYTES): void {
  try {
    if (statSync(path).size <= cap) return;
    copyFileSync(path, `${path}.1`);
    truncateSync(path, 0);
  } catch {
    // missing or unreadable: nothing to cap
  }
}

function sameSpec(a: StoredService, b: StoredService): boolean {
  return (
    a.name === b.name &&
    a.cwd === b.cwd &&
    JSON.stringify(a.command) === JSON.stringify(b.command) &&
    JSON.stringify(a.env) === JSON.stringify(b.env) &&
    JSON.stringify(a.secrets ?? {}) === JSON.stringify(b.secrets ?? {}) &&
    JSON.stringify(a.health) === JSON.stringify(b.health)
  );
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code ?? '?'}`;
}

/** One replica: a child process, restarted with backoff, probed for health. */
class Replica {
  state: ReplicaState = 'stopped';
  pid: number | null = null;
  restarts = 0;
  lastExit: string | null = null;
  startedAt: string | null = null;
  private child: ChildProcess | null = null;
  private prober: ReplicaHealthProber | null = null;
  private backoffMs = BACKOFF_START_MS;
  private restartTimer: NodeJS.Timeout | null = null;
  private startedMs = 0;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  private spawnCount = 0;

  constructor(
    private readonly sup: Supervisor,
    public spec: StoredService,
    readonly index: number,
    readonly port: number,
  ) {}

  status(): ReplicaStatus {
    return {
      index: this.index,
      pid: this.pid,
      port: this.port,
      state: this.state,
      restarts: this.restarts,
      lastExit: this.lastExit,
      startedAt: this.startedAt,
      lastCheck: this.prober?.lastCheck ?? null,
    };
  }

  get receivesTraffic(): boolean {
    return this.state === 'healthy';
  }

  start(): void {
    this.stopping = false;
    this.restartTimer = null;
    const { spec, index, port } = this;
    const logPath = replicaLogPath(this.sup.paths, spec.name, index);
    mkdirSync(dirname(logPath), { recursive: true, mode: 0o700 });
    capLogFile(logPath);
    const fd = openSync(logPath, 'a', 0o600);
    const user = this.sup.replicaUser;
    // Read when the replica starts, as ECS reads a task's secrets: never kept in the runtime's state.
    const secrets = this.sup.secretStore.resolve(spec.secrets ?? {});
    if (secrets.missing.length > 0) {
      try {
        writeSync(
          fd,
          `--- berth runtime: replica ${index} not started: secrets not set: ${secrets.missing.join(', ')}\n`,
        );
      } finally {
        closeSync(fd);
      }
      this.notStarted(`secrets not set: ${secrets.missing.join(', ')}`);
      return;
    }
    // Built from scratch: the runtime's own variables (tokens, cloud credentials) never reach a replica.
    const env = replicaEnvironment({
      parent: process.env,
      user,
      env: spec.env,
      secrets: secrets.values,
      port,
      index,
      service: spec.name,
    });
    const identity = user ? { uid: user.uid, gid: user.gid } : {};
    const command = spec.command;
    let child: ChildProcess;
    try {
      writeSync(
        fd,
        `--- berth runtime: starting replica ${index} on port ${port}: ${JSON.stringify(command)}\n`,
      );
      child = spawn(command[0]!, command.slice(1), {
        cwd: spec.cwd,
        env,
        stdio: ['ignore', fd, fd],
        ...identity,
      });
    } finally {
      closeSync(fd);
    }
    this.spawnCount++;
    if (this.spawnCount > 1) this.restarts++;
    this.child = child;
    this.pid = child.pid ?? null;
    this.startedAt = new Date().toISOString();
    this.startedMs = Date.now();
    this.lastExitRecorded = false;
    this.setState('starting');
    let resolveExit!: () => void;
    this.exited = new Promise((resolve) => (resolveExit = resolve));
    if (this.pid !== null) {
      this.sup.store.setProcess({ serviceId: spec.id, index, port, pid: this.pid, command: [...command] });
      this.prober = new ReplicaHealthProber(port, spec.health, (state) => {
        if (this.child === child && !this.stopping) this.setState(state);
      });
      this.prober.start();
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // an error after spawn (e.g. kill failed): the exit event follows
      this.onEnd(child, this.spawnError(error), resolveExit);
    });
    child.on('exit', (code, signal) => this.onEnd(child, describeExit(code, signal), resolveExit));
  }

  private lastExitRecorded = false;

  /** A replica that could not even be spawned: recorded like a crash, retried with backoff. */
  private notStarted(reason: string): void {
    this.spawnCount++;
    if (this.spawnCount > 1) this.restarts++;
    this.lastExit = reason;
    this.setState('crashed');
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.sup.log(`${this.spec.name}[${this.index}] ${reason}; retrying in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.start();
    }, delay);
  }

  private spawnError(error: NodeJS.ErrnoException): string {
    const { command, cwd } = this.spec;
    if (error.code === 'ENOENT') {
      if (!existsSync(cwd)) return `spawn failed: working directory not found: ${cwd}`;
      return `spawn failed: command not found: "${command[0]}" (ENOENT; searched PATH from ${cwd})`;
    }
    const as = this.sup.replicaUser ? ` as user ${this.sup.replicaUser.name}` : '';
    if (error.code === 'EACCES')
      return `spawn failed: permission denied running "${command[0]}" in ${cwd}${as} (EACCES)`;
    return `spawn failed: ${error.code ?? ''} ${error.message}`.trim();
  }

  private onEnd(child: ChildProcess, exit: string, resolveExit: () => void): void {
    if (this.child !== child || this.lastExitRecorded) return;
    this.lastExitRecorded = true;
    this.prober?.stop();
    this.prober = null;
    this.child = null;
    this.pid = null;
    this.lastExit = exit;
    try {
      const logPath = replicaLogPath(this.sup.paths, this.spec.name, this.index);
      const fd = openSync(logPath, 'a', 0o600);
      writeSync(fd, `--- berth runtime: replica ${this.index} exited: ${exit}\n`);
      closeSync(fd);
    } catch {
      // best effort
    }
    const upMs = Date.now() - this.startedMs;
    if (this.stopping) {
      this.setState('stopped');
      resolveExit();
      return;
    }
    this.sup.store.setProcess({
      serviceId: this.spec.id,
      index: this.index,
      port: this.port,
      pid: null,
      command: [...this.spec.command],
    });
    if (upMs >= BACKOFF_RESET_AFTER_MS) this.backoffMs = BACKOFF_START_MS;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.sup.log(`${this.spec.name}[${this.index}] exited (${exit}); restarting in ${delay} ms`);
    this.setState('crashed');
    resolveExit();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.start();
    }, delay);
  }

  private setState(state: ReplicaState): void {
    if (this.state === state) return;
    this.state = state;
    this.sup.replicaChanged();
  }

  kill(signal: NodeJS.Signals): boolean {
    if (!this.child || this.pid === null) return false;
    try {
      this.child.kill(signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Drain (no new requests), SIGTERM, SIGKILL after 5 s; resolves when the process is gone. */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.prober?.stop();
    this.prober = null;
    const child = this.child;
    if (!child) {
      this.setState('stopped');
      return;
    }
    this.setState('draining');
    if (drainMs > 0) await sleep(drainMs);
    if (this.child !== child) return;
    const exited = this.exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (this.child === child) child.kill('SIGKILL');
    }, KILL_AFTER_MS);
    await exited;
    clearTimeout(timer);
  }
}

/** The replicas of one service. */
class ServiceRunner {
  replicas: Replica[] = [];
  constructor(public spec: StoredService) {}
}

/**
 * Runs every service's replicas as child processes (no shell), restarts them with backoff,
 * probes their health, and keeps their pids in the runtime's state. Emits 'change' whenever a
 * replica's state changes.
 */
export class Supervisor extends EventEmitter {
  private readonly runners = new Map<string, ServiceRunner>();
  private readonly draining = new Set<Promise<void>>();
  private readonly drainMs: number;
  private readonly logFn: (message: string) => void;
  readonly replicaUser: ReplicaUser | null;
  readonly secretStore: LocalSecretStore;
  private closed = false;
  private capTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly store: RuntimeStore,
    readonly paths: RuntimePaths,
    options: SupervisorOptions = {},
  ) {
    super();
    this.drainMs = options.drainMs ?? Number(process.env.BERTH_RUNTIME_DRAIN_MS ?? 300);
    this.logFn = options.log ?? (() => {});
    this.replicaUser = options.replicaUser ?? null;
    this.secretStore = new LocalSecretStore(paths.secrets);
  }

  log(message: string): void {
    this.logFn(message);
  }

  replicaChanged(): void {
    this.emit('change');
  }

  /**
   * Kill replica processes left over from a previous runtime (killed before it could stop them),
   * but only when /proc shows the same command, so that a re-used pid is never killed.
   */
  async killLeftovers(): Promise<number> {
    const victims: number[] = [];
    for (const entry of this.store.state.processes) {
      const pid = entry.pid;
      if (pid === null || pid === process.pid) continue;
      if (!isProcessAlive(pid)) continue;
      const argv = processArgv(pid);
      if (!argv || JSON.stringify(argv) !== JSON.stringify(entry.command)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        victims.push(pid);
      } catch {
        // already gone
      }
    }
    const deadline = Date.now() + 3000;
    while (victims.some(isProcessAlive) && Date.now() < deadline) await sleep(20);
    const serviceIds = new Set(this.store.list('services').map((s) => s.id));
    this.store.state.processes = this.store.state.processes
      .filter((p) => serviceIds.has(p.serviceId))
      .map((p) => ({ ...p, pid: null }));
    this.store.saveBestEffort();
    if (victims.length)
      this.log(`killed ${victims.length} leftover replica process(es): ${victims.join(', ')}`);
    return victims.length;
  }

  start(): void {
    this.store.on('change', (kind: string) => {
      if (kind === 'services') this.sync();
    });
    this.capTimer = setInterval(() => this.capLogs(), 10_000);
    this.capTimer.unref();
    this.sync();
  }

  private capLogs(): void {
    for (const runner of this.runners.values()) {
      for (const replica of runner.replicas) {
        capLogFile(replicaLogPath(this.paths, runner.spec.name, replica.index));
      }
    }
  }

  /** Bring the running replicas in line with the stored services. */
  sync(): void {
    if (this.closed) return;
    const wanted = new Map(this.store.list('services').map((s) => [s.id, s]));
    for (const [id, runner] of this.runners) {
      if (!wanted.has(id)) {
        this.runners.delete(id);
        for (const replica of runner.replicas) this.retire(replica);
      }
    }
    for (const spec of wanted.values()) {
      let runner = this.runners.get(spec.id);
      if (!runner) {
        runner = new ServiceRunner(spec);
        this.runners.set(spec.id, runner);
      } else if (!sameSpec(runner.spec, spec)) {
        runner.spec = spec;
        const r = runner;
        const old = runner.replicas;
        runner.replicas = [];
        for (const replica of old) {
          // restart in place on the same port once the old process is gone
          const next = new Replica(this, spec, replica.index, replica.port);
          next.state = 'starting';
          runner.replicas.push(next);
          const done = replica.stop(this.drainMs).then(() => {
            if (!this.closed && this.runners.get(spec.id) === r && r.replicas.includes(next)) {
              next.start();
            }
          });
          this.track(done);
        }
      }
      runner.spec = spec;
      for (const replica of runner.replicas) replica.spec = spec;
      while (runner.replicas.length > spec.replicas) {
        const replica = runner.replicas.pop()!;
        this.retire(replica);
      }
      for (let index = runner.replicas.length; index < spec.replicas; index++) {
        const replica = new Replica(this, spec, index, 0);
        replica.state = 'starting';
        runner.replicas.push(replica);
        const r = runner;
        this.track(
          this.portFor(spec.id, index).then((port) => {
            if (this.closed || this.runners.get(spec.id) !== r || !r.replicas.includes(replica)) return;
            const placed = new Replica(this, r.spec, index, port);
            r.replicas[r.replicas.indexOf(replica)] = placed;
            placed.start();
          }),
        );
      }
    }
    this.emit('change');
  }

  private async portFor(serviceId: string, index: number): Promise<number> {
    const known = this.store.process(serviceId, index)?.port;
    if (known && (await portIsFree(known))) return known;
    return freePort();
  }

  private retire(replica: Replica): void {
    const serviceId = replica.spec.id;
    const index = replica.index;
    const done = replica.stop(this.drainMs).then(() => {
      const runner = this.runners.get(serviceId);
      const reused = runner?.replicas.some((r) => r.index === index);
      if (!reused) this.store.removeProcess(serviceId, index);
    });
    this.track(done);
  }

  private track(promise: Promise<void>): void {
    const p = promise.catch((error) => this.log(`supervisor: ${String(error)}`));
    this.draining.add(p);
    void p.finally(() => this.draining.delete(p));
  }

  status(serviceId: string): ReplicaStatus[] {
    return this.runners.get(serviceId)?.replicas.map((r) => r.status()) ?? [];
  }

  /** Ports of replicas that may receive new requests, in index order. */
  healthyPorts(serviceId: string): { index: number; port: number }[] {
    const runner = this.runners.get(serviceId);
    if (!runner) return [];
    const out: { index: number; port: number }[] = [];
    for (const r of runner.replicas) if (r.receivesTraffic) out.push({ index: r.index, port: r.port });
    return out;
  }

  kill(serviceId: string, index: number, signal: NodeJS.Signals): 'killed' | 'no-replica' | 'not-running' {
    const replica = this.runners.get(serviceId)?.replicas.find((r) => r.index === index);
    if (!replica) return 'no-replica';
    return replica.kill(signal) ? 'killed' : 'not-running';
  }

  /** Stop every replica (SIGTERM, SIGKILL after 5 s), keeping services in the state for the next start. */
  async stopAll(): Promise<void> {
    this.closed = true;
    if (this.capTimer) clearInterval(this.capTimer);
    const stops: Promise<void>[] = [];
    for (const runner of this.runners.values()) {
      for (const replica of runner.replicas) stops.push(replica.stop(0));
    }
    await Promise.allSettled([...stops, ...this.draining]);
    this.runners.clear();
    for (const p of this.store.state.processes) p.pid = null;
    this.store.saveBestEffort();
  }
}
