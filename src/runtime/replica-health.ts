import { request } from 'node:http';
import type { ReplicaHealthConfig } from './types.js';

/** While a replica is starting it is probed this often, so a deploy is not slowed by the interval. */
export const STARTING_PROBE_MS = 10;

/**
 * Replicas starting at once that are each probed every STARTING_PROBE_MS; more share that rate.
 * A probe of a port nobody listens on yet costs the runtime 0.1-0.4 ms of CPU: forty replicas
 * starting together (twenty repairs, each replacing a replica) at 10 ms would take a whole core of
 * a small machine, from the very processes that are starting.
 */
export const STARTING_AT_FULL_PACE = 4;

/** Probers of replicas that are starting, in this process. */
let startingProbers = 0;

/** How often each starting replica is probed while `starting` replicas start at once. */
export function startingProbeIntervalMs(starting: number): number {
  return STARTING_PROBE_MS * Math.max(1, starting / STARTING_AT_FULL_PACE);
}

/** How many replicas are starting (being probed at the starting pace) in this process. */
export function startingReplicas(): number {
  return startingProbers;
}

export type ProbeState = 'starting' | 'healthy' | 'unhealthy';

export interface ProbeResult {
  ok: boolean;
  error?: string;
  /** What the check saw, in the words a user reads: "GET /ready → 404", "connection refused". */
  detail: string;
}

/** Socket errors as a user reads them; anything else keeps its code. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  EHOSTUNREACH: 'host unreachable',
};

/** One HTTP GET to a replica on loopback; ok for 2xx and 3xx answers within the timeout. */
export function probeOnce(port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      res.on('error', () => {});
      const detail = `GET ${path} → ${status}`;
      done(
        status >= 200 && status < 400 ? { ok: true, detail } : { ok: false, error: `HTTP ${status}`, detail },
      );
    });
    const timer = setTimeout(() => {
      done({
        ok: false,
        error: `no answer within ${timeoutMs} ms`,
        detail: `timed out after ${timeoutMs}ms`,
      });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? error.message;
      done({ ok: false, error: code, detail: NETWORK_ERRORS[code] ?? code });
    });
    req.end();
  });
}

/**
 * Probes one replica and runs its health state machine:
 * starting -> healthy after healthyThreshold consecutive successes;
 * healthy -> unhealthy after unhealthyThreshold consecutive failures;
 * unhealthy -> healthy after healthyThreshold consecutive successes.
 */
export class ReplicaHealthProber {
  state: ProbeState = 'starting';
  lastError: string | null = null;
  /** The last check's result ("GET /ready → 404"); null before the first answer. */
  lastCheck: string | null = null;
  private successes = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Counted in `startingProbers` (from start until it leaves `starting` or stops). */
  private countedStarting = false;

  constructor(
    private readonly port: number,
    private readonly config: ReplicaHealthConfig,
    private readonly onChange: (state: ProbeState) => void,
  ) {}

  start(): void {
    if (this.state === 'starting' && !this.countedStarting) {
      this.countedStarting = true;
      startingProbers += 1;
    }
    this.schedule(0);
  }

  stop(): void {
    this.leaveStarting();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private leaveStarting(): void {
    if (!this.countedStarting) return;
    this.countedStarting = false;
    startingProbers -= 1;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    const result = await probeOnce(this.port, this.config.path, this.config.timeoutMs);
    if (this.stopped) return;
    this.lastCheck = result.detail;
    const before = this.state;
    if (result.ok) {
      this.failures = 0;
      this.successes++;
      this.lastError = null;
      if (this.state !== 'healthy' && this.successes >= this.config.healthyThreshold) this.state = 'healthy';
    } else {
      this.successes = 0;
      this.failures++;
      this.lastError = result.error ?? 'failed';
      if (this.state === 'healthy' && this.failures >= this.config.unhealthyThreshold)
        this.state = 'unhealthy';
    }
    if (this.state !== 'starting') this.leaveStarting();
    if (this.state !== before) this.onChange(this.state);
    this.schedule(
      this.state === 'starting' ? startingProbeIntervalMs(startingProbers) : this.config.intervalMs,
    );
  }
}
