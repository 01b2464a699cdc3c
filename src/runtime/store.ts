import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type {
  RuntimeDns,
  RuntimeHealthCheck,
  RuntimeKind,
  RuntimeRoute,
  RuntimeServiceInput,
} from './types.js';
import { readFileOrNull, writeFileAtomic } from './files.js';
import type { RuntimePaths } from './paths.js';

/** A service as stored: its input and bookkeeping; replica status lives in the supervisor. */
export interface StoredService extends RuntimeServiceInput {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** One replica process the runtime started; kept until the process is known to be gone. */
export interface StoredProcess {
  serviceId: string;
  index: number;
  port: number;
  pid: number | null;
  /** The argv it was started with: a leftover pid is killed only when /proc still shows this. */
  command: string[];
}

export interface RuntimeStateFile {
  version: 1;
  instanceId: string;
  services: StoredService[];
  routes: RuntimeRoute[];
  dns: RuntimeDns[];
  healthchecks: RuntimeHealthCheck[];
  processes: StoredProcess[];
}

export interface StoredMap {
  services: StoredService;
  routes: RuntimeRoute;
  dns: RuntimeDns;
  healthchecks: RuntimeHealthCheck;
}

/**
 * The runtime's own persisted state: one JSON file, rewritten atomically after every change (the
 * bookkeeping of replica processes: at the end of the turn of the event loop it changed in).
 * Emits 'change' (kind) after every mutation of a resource.
 */
export class RuntimeStore extends EventEmitter {
  /** Replica bookkeeping changed and is not saved yet (see `saveProcessesSoon`). */
  private processesPending = false;

  private constructor(
    private readonly path: string,
    readonly state: RuntimeStateFile,
  ) {
    super();
  }

  static load(paths: RuntimePaths): RuntimeStore {
    mkdirSync(paths.dir, { recursive: true });
    const raw = readFileOrNull(paths.state);
    let state: RuntimeStateFile;
    if (raw === null) {
      state = {
        version: 1,
        instanceId: `rtm-${randomBytes(8).toString('hex')}`,
        services: [],
        routes: [],
        dns: [],
        healthchecks: [],
        processes: [],
      };
    } else {
      try {
        const parsed = JSON.parse(raw) as Partial<RuntimeStateFile>;
        if (typeof parsed.instanceId !== 'string') throw new Error('no instanceId');
        state = {
          version: 1,
          instanceId: parsed.instanceId,
          services: parsed.services ?? [],
          routes: parsed.routes ?? [],
          dns: parsed.dns ?? [],
          healthchecks: parsed.healthchecks ?? [],
          processes: parsed.processes ?? [],
        };
      } catch (error) {
        throw new Error(`the local runtime's state file ${paths.state} is unreadable: ${String(error)}`, {
          cause: error,
        });
      }
    }
    const store = new RuntimeStore(paths.state, state);
    store.save();
    return store;
  }

  get instanceId(): string {
    return this.state.instanceId;
  }

  save(): void {
    writeFileAtomic(this.path, `${JSON.stringify(this.state, null, 2)}\n`);
    this.processesPending = false;
  }

  list<K extends RuntimeKind>(kind: K): StoredMap[K][] {
    return this.state[kind] as StoredMap[K][];
  }

  get<K extends RuntimeKind>(kind: K, id: string): StoredMap[K] | undefined {
    return (this.state[kind] as StoredMap[K][]).find((item) => item.id === id);
  }

  /** Insert or replace (by id), persist, then notify. */
  put<K extends RuntimeKind>(kind: K, item: StoredMap[K]): void {
    const list = this.state[kind] as StoredMap[K][];
    const before = [...list];
    const index = list.findIndex((existing) => existing.id === item.id);
    if (index >= 0) list[index] = item;
    else list.push(item);
    this.saveOrUndo(kind, before);
    this.emit('change', kind);
  }

  /**
   * Persist, or (disk full, read-only) put the list back as it was and throw: what the runtime
   * runs never differs from what its state file says, and the caller learns the change failed.
   */
  private saveOrUndo(kind: RuntimeKind, before: unknown[]): void {
    try {
      this.save();
    } catch (error) {
      (this.state[kind] as unknown[]).splice(0, Infinity, ...before);
      throw error;
    }
  }

  /**
   * Save bookkeeping (pids, health-check status); on a full or read-only disk it stays in memory
   * and the next successful save records it. The runtime keeps serving either way.
   */
  saveBestEffort(): void {
    try {
      this.save();
    } catch {
      // kept in memory: the pid is known to this runtime, and saved with the next change
    }
  }

  /**
   * Save bookkeeping of replica processes at the end of this turn of the event loop (best effort,
   * as `saveBestEffort`). Replicas that exit or start together (their exits are reaped in one
   * turn) then cost one write and fsync of the whole state instead of one each, every one of which
   * held up the proxy and the console; a resource change in the same turn saves it all at once.
   */
  private saveProcessesSoon(): void {
    if (this.processesPending) return;
    this.processesPending = true;
    setImmediate(() => {
      if (!this.processesPending) return; // saved meanwhile with a resource change
      this.saveBestEffort();
    });
  }

  /** Remove, persist, then notify; false when it did not exist. */
  remove(kind: RuntimeKind, id: string): boolean {
    const list = this.state[kind] as { id: string }[];
    const index = list.findIndex((existing) => existing.id === id);
    if (index < 0) return false;
    const before = [...list];
    list.splice(index, 1);
    this.saveOrUndo(kind, before);
    this.emit('change', kind);
    return true;
  }

  process(serviceId: string, index: number): StoredProcess | undefined {
    return this.state.processes.find((p) => p.serviceId === serviceId && p.index === index);
  }

  /**
   * Record (or update) a replica process; persisted at the end of this turn of the event loop, so
   * that a restarted runtime finds the pid (only a runtime that dies within that same turn leaves
   * its replica unrecorded).
   */
  setProcess(entry: StoredProcess): void {
    const list = this.state.processes;
    const index = list.findIndex((p) => p.serviceId === entry.serviceId && p.index === entry.index);
    if (index >= 0) list[index] = entry;
    else list.push(entry);
    this.saveProcessesSoon();
  }

  removeProcess(serviceId: string, index: number): void {
    const list = this.state.processes;
    const at = list.findIndex((p) => p.serviceId === serviceId && p.index === index);
    if (at >= 0) {
      list.splice(at, 1);
      this.saveProcessesSoon();
    }
  }
}
