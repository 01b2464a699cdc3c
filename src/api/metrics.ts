/**
 * Prometheus metrics at /metrics: operations by kind and result, step durations, API latency,
 * drift seen, and the reconcilers of this process (which environments it leads, how fresh their
 * observations are, how much drift each service shows now). Each control plane reports what it
 * does itself: scrape every replica.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReconcilerStatus } from '../reconciler/index.js';
import type { EventRecord } from '../state/store.js';
import { awsCalls } from '../providers/aws/call-metrics.js';

export interface Metrics {
  registry: Registry;
  /** Feeds operation and step metrics from the engine's event stream. */
  observeEvent(event: EventRecord): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Where the reconciler gauges come from (read at every scrape). */
  watchReconcilers(source: () => ReconcilerStatus[]): void;
}

/** A registry of its own per app (tests build many apps in one process). */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'berth_process_' });
  // AWS calls are counted process-wide (by whichever provider or store made them).
  registry.registerMetric(awsCalls);
  const operations = new Counter({
    name: 'berth_operations_total',
    help: 'Operations finished, by kind (deploy, rollback, delete, repair) and result',
    labelNames: ['env', 'kind', 'result'] as const,
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'berth_step_duration_seconds',
    help: 'How long operation steps took, by step and result',
    labelNames: ['env', 'step', 'result'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const requests = new Histogram({
    name: 'berth_api_request_duration_seconds',
    help: 'API request latency, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const drift = new Counter({
    name: 'berth_drift_detected_total',
    help: 'Drift seen by the reconciler (each new or changed item once), by environment, resource kind and state',
    labelNames: ['env', 'kind', 'state'] as const,
    registers: [registry],
  });
  let reconcilers: () => ReconcilerStatus[] = () => [];
  new Gauge({
    name: 'berth_reconciler_leader',
    help: "1 when this process's reconciler holds the environment's lease and acts, 0 while it stands by",
    labelNames: ['env'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const status of reconcilers()) this.set({ env: status.env }, status.leader ? 1 : 0);
    },
  });
  new Gauge({
    name: 'berth_reconciler_observation_age_seconds',
    help: "Age of the leading reconciler's latest observation of the environment",
    labelNames: ['env'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const status of reconcilers()) {
        if (!status.leader || !status.lastObservationAt) continue;
        this.set({ env: status.env }, (Date.now() - Date.parse(status.lastObservationAt)) / 1000);
      }
    },
  });
  new Gauge({
    name: 'berth_service_drift_items',
    help: 'Resources of a service that differ from what berth desires now, as the leading reconciler last saw them',
    labelNames: ['env', 'service'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const status of reconcilers()) {
        if (!status.leader) continue;
        for (const service of status.services) {
          this.set({ env: status.env, service: service.service }, service.drift.length);
        }
      }
    },
  });
  return {
    registry,
    watchReconcilers(source) {
      reconcilers = source;
    },
    observeEvent(event) {
      const data = event.data ?? {};
      if (event.type === 'drift.seen' && Array.isArray(data.items)) {
        for (const item of data.items as { kind?: unknown; state?: unknown }[]) {
          drift.inc({
            env: event.env,
            kind: String(item.kind ?? 'unknown'),
            state: String(item.state ?? 'unknown'),
          });
        }
      }
      if (/^operation\.(succeeded|failed|cancelled)$/.test(event.type)) {
        operations.inc({
          env: event.env,
          kind: String(data.kind ?? 'unknown'),
          result: event.type.slice(10),
        });
      } else if (/^step\.(succeeded|failed)$/.test(event.type) && typeof data.ms === 'number') {
        steps.observe(
          { env: event.env, step: String(data.step ?? 'unknown'), result: event.type.slice(5) },
          data.ms / 1000,
        );
      }
    },
    observeRequest(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
  };
}

const ENV_LABEL = /[{,]env="([^"]*)"/;

/**
 * The Prometheus text with only the series a caller may see: a sample labelled with an
 * environment is kept when `mayRead(env)`; series without one (the process, API latency by route
 * pattern) are kept for every caller. Environment names are DNS labels, so a label value never
 * holds an escaped quote.
 */
export function scopeMetrics(text: string, mayRead: (env: string) => boolean): string {
  return text
    .split('\n')
    .filter((line) => {
      if (line.startsWith('#')) return true;
      const env = ENV_LABEL.exec(line)?.[1];
      return env === undefined || mayRead(env);
    })
    .join('\n');
}
