import type { OperationRecord, StepRecord } from '../state/store.js';

/** How often and how fast a step retries transient errors. */
export interface RetryPolicy {
  /** Attempts in all, including the first. Default 5. */
  maxAttempts: number;
  /** Wait before the second attempt; doubles each time. Default 200 ms. */
  initialDelayMs: number;
  /** Longest wait between attempts. Default 3 s. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialDelayMs: 200, maxDelayMs: 3000 };

/**
 * Steps that stop compute wait for its traffic to drain (on AWS the load balancer's deregistration
 * delay, 30 s, after ECS began stopping the tasks): up to about two minutes of retries, each
 * saying what is still draining.
 */
export const DRAIN_RETRY: RetryPolicy = { maxAttempts: 30, initialDelayMs: 1000, maxDelayMs: 5000 };

export interface StepContext {
  operation: OperationRecord;
  step: StepRecord;
  /** Aborted when the step's deadline passes or the operation is cancelled. */
  signal: AbortSignal;
  /** Saves progress so that a resumed step continues where it stopped. */
  checkpoint(data: unknown): Promise<void>;
  /** Shows what the step is doing now (persisted and streamed as an event). */
  progress(message: string): Promise<void>;
  /** The checkpoint a previous step saved. */
  checkpointOf<T>(stepName: string): T | undefined;
}

/**
 * One named, idempotent step of an operation, like a Temporal activity: running it twice has the
 * same effect as running it once, so an interrupted operation can always run it again.
 */
export interface StepDefinition {
  name: string;
  /** The step fails when one run takes longer than this. */
  deadlineMs: number;
  retry?: RetryPolicy;
  /** Returns the message shown when it succeeds. */
  run(context: StepContext): Promise<string>;
}

export function pendingSteps(names: string[]): StepRecord[] {
  return names.map((name) => ({
    name,
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    message: null,
    attempts: 0,
    checkpoint: null,
  }));
}
