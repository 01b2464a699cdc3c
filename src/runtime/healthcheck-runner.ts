import { request } from 'node:http';
import type { RuntimeStore } from './store.js';
import type { RuntimeHealthCheck } from './types.js';

const CHECK_TIMEOUT_MS = 2000;

/** GET http://127.0.0.1:<proxyPort><path> with the given Host; ok for 2xx/3xx. */
function checkThroughProxy(proxyPort: number, host: string, path: string): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(error);
    };
    const req = request(
      { host: '127.0.0.1', port: proxyPort, path, method: 'GET', headers: { host }, agent: false },
      (res) => {
        const status = res.statusCode ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 300) body += chunk;
        });
        res.on('end', () =>
          done(status >= 200 && status < 400 ? null : `HTTP ${status}: ${body.trim().slice(0, 200)}`),
        );
        res.on('error', () => done(`HTTP ${status}: response aborted`));
      },
    );
    const timer = setTimeout(() => {
      done(`no answer within ${CHECK_TIMEOUT_MS} ms`);
      req.destroy();
    }, CHECK_TIMEOUT_MS);
    req.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    req.end();
  });
}

interface Checker {
  timer: NodeJS.Timeout | null;
  failures: number;
  key: string;
  stopped: boolean;
}

/**
 * The runtime's Route 53 health checks: each `healthchecks` resource is checked through the
 * proxy every intervalMs; it turns unhealthy after failureThreshold consecutive failures and
 * healthy after one success. Status changes are persisted; check times are kept in memory
 * and written along with the next change.
 */
export class HealthCheckRunner {
  private readonly checkers = new Map<string, Checker>();
  private closed = false;

  constructor(
    private readonly store: RuntimeStore,
    private readonly proxyPort: number,
  ) {}

  start(): void {
    this.store.on('change', (kind: string) => {
      if (kind === 'healthchecks') this.sync();
    });
    this.sync();
  }

  stop(): void {
    this.closed = true;
    for (const checker of this.checkers.values()) {
      checker.stopped = true;
      if (checker.timer) clearTimeout(checker.timer);
    }
    this.checkers.clear();
  }

  private sync(): void {
    if (this.closed) return;
    const wanted = new Map(this.store.list('healthchecks').map((hc) => [hc.id, hc]));
    for (const [id, checker] of this.checkers) {
      const hc = wanted.get(id);
      if (!hc || keyOf(hc) !== checker.key) {
        checker.stopped = true;
        if (checker.timer) clearTimeout(checker.timer);
        this.checkers.delete(id);
      }
    }
    for (const hc of wanted.values()) {
      if (this.checkers.has(hc.id)) continue;
      const checker: Checker = { timer: null, failures: 0, key: keyOf(hc), stopped: false };
      this.checkers.set(hc.id, checker);
      checker.timer = setTimeout(() => void this.tick(hc.id, checker), 0);
    }
  }

  private async tick(id: string, checker: Checker): Promise<void> {
    const hc = this.store.get('healthchecks', id);
    if (!hc || checker.stopped) return;
    const error = await checkThroughProxy(this.proxyPort, hc.host, hc.path);
    const current = this.store.get('healthchecks', id);
    if (!current || checker.stopped) return;
    current.lastCheckedAt = new Date().toISOString();
    current.lastError = error;
    const before = current.status;
    if (error === null) {
      checker.failures = 0;
      current.status = 'healthy';
    } else {
      checker.failures++;
      if (checker.failures >= current.failureThreshold) current.status = 'unhealthy';
    }
    if (current.status !== before) this.store.saveBestEffort();
    checker.timer = setTimeout(() => void this.tick(id, checker), current.intervalMs);
  }
}

function keyOf(hc: RuntimeHealthCheck): string {
  return JSON.stringify([hc.host, hc.path, hc.intervalMs, hc.failureThreshold]);
}
