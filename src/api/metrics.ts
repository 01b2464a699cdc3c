/** Prometheus metrics at /metrics: operations by kind and result, step durations, API latency. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventRecord } from '../state/store.js';

export interface Metrics {
  registry: Registry;
  /** Feeds operation and step metrics from the engine's event stream. */
  observeEvent(event: EventRecord): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

/** A registry of its own per app (tests build many apps in one process). */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'berth_process_' });
  const operations = new Counter({
    name: 'berth_operations_total',
    help: 'Operations finished, by kind (deploy, rollback, delete, repair) and result',
    labelNames: ['env', 'kind', 'result'] as const,
    registers: [registry],
  });
  const steps = new Histogram({
    name: 'berth_step_duration_seconds',
    help: 'How long operation steps took, by step and result',
    labelNames: ['step', 'result'] as const,
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
  return {
    registry,
    observeEvent(event) {
      const data = event.data ?? {};
      if (/^operation\.(succeeded|failed|cancelled)$/.test(event.type)) {
        operations.inc({
          env: event.env,
          kind: String(data.kind ?? 'unknown'),
          result: event.type.slice(10),
        });
      } else if (/^step\.(succeeded|failed)$/.test(event.type) && typeof data.ms === 'number') {
        steps.observe({ step: String(data.step ?? 'unknown'), result: event.type.slice(5) }, data.ms / 1000);
      }
    },
    observeRequest(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
  };
}
