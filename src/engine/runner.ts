import { errorMessage, TransientError, UserError } from '../core/errors.js';
import { isoTime, sleep, type Clock } from '../core/clock.js';
import {
  FencedError,
  type EventRecord,
  type NewEvent,
  type OperationRecord,
  type StateStore,
} from '../state/store.js';
import { ownerMayBeAlive, ownerPid } from './owner.js';
import { DEFAULT_RETRY, type StepContext, type StepDefinition } from './steps.js';

export interface RunnerDeps {
  store: StateStore;
  clock: Clock;
  owner: string;
  /** How long a claim lasts without renewal. Default 15 s. */
  leaseMs?: number;
  onEvent?: (event: EventRecord) => void;
}

class CancelledSignal extends Error {
  constructor() {
    super('cancelled on request');
  }
}

class DeadlineSignal extends Error {
  constructor(readonly deadlineMs: number) {
    super(`deadline of ${deadlineMs / 1000}s passed`);
  }
}

/**
 * Runs an operation's steps in order under a lease. Each step's status, times, attempts and
 * message are persisted before and after it runs, so an interrupted operation resumes at its first
 * unfinished step. Transient errors are retried with backoff; a step fails at its deadline; a
 * cancel request stops the operation between steps or inside a waiting step.
 */
export class OperationRunner {
  private readonly leaseMs: number;

  constructor(private readonly deps: RunnerDeps) {
    this.leaseMs = deps.leaseMs ?? 15_000;
  }

  async emit(event: NewEvent): Promise<EventRecord> {
    const record = await this.deps.store.appendEvent(event);
    this.deps.onEvent?.(record);
    return record;
  }

  /**
   * Claims the operation. A lease held by a runner known to be dead (a process on this host that
   * no longer exists) counts as expired, so a killed CLI's operation resumes at once.
   */
  async claim(operation: OperationRecord): Promise<OperationRecord | null> {
    const now = this.deps.clock.now();
    const expired = operation.leaseExpiresAt === null || operation.leaseExpiresAt <= now;
    const dead = !expired && !ownerMayBeAlive(operation.leaseOwner);
    const claimAt = dead ? Math.max(now, (operation.leaseExpiresAt ?? now) + 1) : now;
    return this.deps.store.claimOperation(operation.id, this.deps.owner, this.leaseMs, claimAt);
  }

  async run(initial: OperationRecord, steps: StepDefinition[]): Promise<OperationRecord> {
    const { store } = this.deps;
    const previousOwner = initial.leaseOwner;
    const claimed = await this.claim(initial);
    if (!claimed) {
      throw new UserError(`operation ${initial.id} is being run by another process (${initial.leaseOwner})`, {
        exitCode: 3,
        code: 'operation_active',
      });
    }
    const op = claimed;
    const base = { env: op.env, service: op.service, operationId: op.id };
    const interrupted = op.steps.find((step) => step.status === 'running');
    if (interrupted || op.steps.some((step) => step.status === 'succeeded')) {
      const where = interrupted ? `during step "${interrupted.name}"` : 'between steps';
      await this.emit({
        ...base,
        type: 'operation.resumed',
        message: `resuming ${op.kind} ${op.id}: it was interrupted ${where} (runner pid ${ownerPid(previousOwner)} is gone)`,
        data: { interruptedStep: interrupted?.name ?? null },
      });
    } else {
      await this.emit({
        ...base,
        type: 'operation.started',
        message: `${op.kind} started`,
        data: { kind: op.kind },
      });
    }

    // Saves are serialised: the heartbeat and the steps both write the record.
    let chain: Promise<void> = Promise.resolve();
    const save = () => {
      chain = chain.then(() => store.saveOperation(op, this.leaseMs, this.deps.clock.now()));
      return chain;
    };
    const cancel = new AbortController();
    const heartbeat = setInterval(
      () => {
        void (async () => {
          const latest = await store.getOperation(op.id);
          if (latest?.cancelRequested && !cancel.signal.aborted) cancel.abort(new CancelledSignal());
          await save();
        })().catch(() => undefined);
      },
      Math.min(500, Math.floor(this.leaseMs / 5)),
    );

    try {
      if (op.cancelRequested) cancel.abort(new CancelledSignal());
      for (const definition of steps) {
        const index = op.steps.findIndex((step) => step.name === definition.name);
        const record = op.steps[index];
        if (!record || record.status === 'succeeded' || record.status === 'skipped') continue;
        if (cancel.signal.aborted) break;
        const outcome = await this.runStep(op, index, definition, cancel.signal, save);
        if (outcome !== 'succeeded') break;
      }
      const failedStep = op.steps.find((step) => step.status === 'failed');
      const cancelled = cancel.signal.aborted || op.steps.some((step) => step.status === 'cancelled');
      op.status = failedStep ? 'failed' : cancelled ? 'cancelled' : 'succeeded';
      if (op.status === 'cancelled') {
        for (const step of op.steps) {
          if (step.status === 'pending' || step.status === 'running') step.status = 'cancelled';
        }
      }
      op.error = failedStep
        ? `step "${failedStep.name}" failed: ${failedStep.message}`
        : cancelled
          ? 'cancelled on request'
          : null;
      op.finishedAt = isoTime(this.deps.clock.now());
      await save();
      const elapsed = op.startedAt
        ? ((Date.parse(op.finishedAt) - Date.parse(op.startedAt)) / 1000).toFixed(1)
        : '?';
      await this.emit({
        ...base,
        type: `operation.${op.status}`,
        // The reason is in the failed step's own event and in op.error: it is not repeated here.
        message:
          op.status === 'succeeded'
            ? `${op.kind} succeeded in ${elapsed}s`
            : failedStep
              ? `${op.kind} failed at step "${failedStep.name}" after ${elapsed}s`
              : `${op.kind} ${op.status} after ${elapsed}s`,
        data: { kind: op.kind, status: op.status },
      });
      return op;
    } catch (error) {
      if (error instanceof FencedError) {
        await this.emit({ ...base, type: 'operation.fenced', message: error.message, data: null });
      }
      throw error;
    } finally {
      clearInterval(heartbeat);
      await chain.catch(() => undefined);
    }
  }

  private async runStep(
    op: OperationRecord,
    index: number,
    definition: StepDefinition,
    cancelSignal: AbortSignal,
    save: () => Promise<void>,
  ): Promise<'succeeded' | 'failed' | 'cancelled'> {
    const retry = definition.retry ?? DEFAULT_RETRY;
    const base = { env: op.env, service: op.service, operationId: op.id };
    const step = op.steps[index]!;
    const context = (signal: AbortSignal): StepContext => ({
      operation: op,
      step,
      signal,
      checkpoint: async (data) => {
        step.checkpoint = data;
        await save();
      },
      progress: async (message) => {
        step.message = message;
        await save();
        await this.emit({ ...base, type: 'step.progress', message, data: { step: step.name } });
      },
      checkpointOf: <T>(name: string) =>
        op.steps.find((other) => other.name === name)?.checkpoint as T | undefined,
    });

    for (;;) {
      step.status = 'running';
      step.attempts += 1;
      step.startedAt ??= isoTime(this.deps.clock.now());
      step.finishedAt = null;
      await save();
      await this.emit({
        ...base,
        type: 'step.started',
        message: step.attempts > 1 ? `${step.name} (attempt ${step.attempts})` : step.name,
        data: { step: step.name, attempt: step.attempts },
      });
      await this.testPause(step.name);

      const deadline = AbortSignal.timeout(definition.deadlineMs);
      const signal = AbortSignal.any([cancelSignal, deadline]);
      try {
        const message = await raceAbort(
          definition.run(context(signal)),
          signal,
          definition.deadlineMs,
          deadline,
        );
        step.status = 'succeeded';
        step.message = message;
        step.finishedAt = isoTime(this.deps.clock.now());
        await save();
        await this.emit({
          ...base,
          type: 'step.succeeded',
          message,
          data: { step: step.name, ms: this.elapsed(step) },
        });
        return 'succeeded';
      } catch (error) {
        if (error instanceof FencedError) throw error;
        if (cancelSignal.aborted) {
          step.status = 'cancelled';
          step.message = 'cancelled on request';
          step.finishedAt = isoTime(this.deps.clock.now());
          await save();
          await this.emit({
            ...base,
            type: 'step.cancelled',
            message: step.message,
            data: { step: step.name },
          });
          return 'cancelled';
        }
        const reason =
          error instanceof DeadlineSignal || deadline.aborted
            ? `did not finish within ${definition.deadlineMs / 1000}s${step.message ? ` (last: ${step.message})` : ''}`
            : errorMessage(error);
        if (error instanceof TransientError && step.attempts < retry.maxAttempts) {
          const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (step.attempts - 1));
          step.message = `${reason}; retrying in ${delay} ms`;
          await save();
          await this.emit({
            ...base,
            type: 'step.retrying',
            message: step.message,
            data: { step: step.name },
          });
          try {
            await sleep(delay, cancelSignal);
          } catch {
            continue; // cancelled while waiting: the next attempt sees the signal at once
          }
          continue;
        }
        step.status = 'failed';
        step.message = reason;
        step.finishedAt = isoTime(this.deps.clock.now());
        await save();
        await this.emit({
          ...base,
          type: 'step.failed',
          message: reason,
          data: { step: step.name, ms: this.elapsed(step) },
        });
        return 'failed';
      }
    }
  }

  private elapsed(step: { startedAt: string | null; finishedAt: string | null }): number | null {
    return step.startedAt && step.finishedAt
      ? Date.parse(step.finishedAt) - Date.parse(step.startedAt)
      : null;
  }

  /**
   * Test switch for crash-safety tests: BERTH_TEST_PAUSE_IN_STEP=<step name> stops the runner
   * inside that step (after it is recorded as running) until the process is killed, or, with
   * BERTH_TEST_PAUSE_MS=<ms>, for that long (an operation caught in the middle by a fault test).
   */
  private async testPause(stepName: string): Promise<void> {
    if (process.env.BERTH_TEST_PAUSE_IN_STEP !== stepName) return;
    process.stderr.write(`berth: paused in step "${stepName}" (BERTH_TEST_PAUSE_IN_STEP)\n`);
    const pauseMs = Number(process.env.BERTH_TEST_PAUSE_MS);
    if (pauseMs > 0) return sleep(pauseMs);
    await new Promise(() => undefined);
  }
}

/** Settles with the step's result, or rejects as soon as the signal aborts (deadline or cancel). */
function raceAbort<T>(
  work: Promise<T>,
  signal: AbortSignal,
  deadlineMs: number,
  deadline: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(deadline.aborted ? new DeadlineSignal(deadlineMs) : new CancelledSignal());
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
