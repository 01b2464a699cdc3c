/**
 * Runs the SQLite store in real child processes, to test what only separate processes can show:
 * that the file's locking, not anything inside one process, keeps the store's promises.
 *
 * The children import the store's current source, transpiled here (types stripped, nothing
 * checked) rather than `dist/`, which may be stale or not built. The output goes under the
 * project's node_modules/.cache so that the children resolve `better-sqlite3` as the code would.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What each child does once told to go. It prints one JSON line with its outcome. */
const CHILD_SCRIPT = `
import { createInterface } from 'node:readline';
import { SqliteStateStore } from './src/state/sqlite/store.js';

const [file, action, argJson] = process.argv.slice(2);
const arg = JSON.parse(argJson);
const me = 'runner-' + process.pid;

const lines = createInterface({ input: process.stdin });
const go = new Promise((resolve) => lines.once('line', resolve));

let store = arg.openAfterGo ? null : SqliteStateStore.open(file);
process.stdout.write('ready\\n');
await go;
lines.close();

const describe = (error) => ({ name: error.name, message: error.message, activeId: error.active?.id });
let outcome;
try {
  store ??= SqliteStateStore.open(file);
  if (action === 'create') {
    const op = await store.createOperation({
      id: 'op-' + process.pid, env: arg.env, service: arg.service, kind: 'deploy', status: 'pending',
      revision: 1, params: {}, steps: [],
    });
    outcome = { won: true, id: op.id };
  } else if (action === 'claim') {
    const claimed = await store.claimOperation(arg.id, me, 60000, Date.now());
    outcome = { won: claimed !== null, owner: me, token: claimed?.fencingToken ?? null };
  } else if (action === 'increment') {
    // Optimistic read-modify-write, retried on conflict: no increment may be lost.
    let conflicts = 0;
    for (let i = 0; i < arg.times; i++) {
      for (;;) {
        const current = await store.getService(arg.env, arg.service);
        try {
          await store.putService({ ...current, generation: current.generation + 1 }, current.version);
          break;
        } catch (error) {
          if (error.name !== 'ConflictError') throw error;
          conflicts++;
        }
      }
      await store.appendEvent({ env: arg.env, service: arg.service, operationId: null, type: 'tick',
        message: me + ' ' + i, data: null });
      await store.addRevision({ env: arg.env, service: arg.service, spec: { name: arg.service },
        specHash: me + '-' + i, origin: { kind: 'deploy' } });
    }
    outcome = { done: arg.times, conflicts };
  } else {
    throw new Error('unknown action ' + action);
  }
} catch (error) {
  outcome = { error: describe(error) };
}
await store?.close();
process.stdout.write(JSON.stringify(outcome) + '\\n');
`;

export interface ChildStoreKit {
  /**
   * Starts `count` processes, waits until each has loaded the store (and opened the file, unless
   * `arg.openAfterGo`), then releases them all at once and returns each one's outcome.
   */
  race(
    count: number,
    file: string,
    action: 'create' | 'claim' | 'increment',
    arg: object,
  ): Promise<ChildOutcome[]>;
  dispose(): void;
}

export type ChildOutcome = Record<string, unknown> & {
  won?: boolean;
  error?: { name: string; message: string; activeId?: string };
};

export function prepareChildStore(): ChildStoreKit {
  const cache = path.join(ROOT, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const outDir = fs.mkdtempSync(path.join(cache, 'berth-state-test-'));
  // Under node_modules Node does not look further up for "type": "module"; say it here.
  fs.writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
  transpileTree(path.join(ROOT, 'src/state/sqlite/store.ts'), outDir);
  const script = path.join(outDir, 'child.js');
  fs.writeFileSync(script, CHILD_SCRIPT);

  return {
    async race(count, file, action, arg) {
      const children = Array.from({ length: count }, () =>
        startChild(script, [file, action, JSON.stringify(arg)]),
      );
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.go();
      return Promise.all(children.map((c) => c.outcome));
    },
    dispose() {
      fs.rmSync(outDir, { recursive: true, force: true });
    },
  };
}

function startChild(script: string, args: string[]) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('ready\n')) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const outcome = new Promise<ChildOutcome>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || last === 'ready' || last === '') {
        reject(new Error(`child exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr}`));
        return;
      }
      resolve(JSON.parse(last) as ChildOutcome);
    });
  });
  // A child that dies before "ready" must fail the race, not hang it.
  const readyOrDead = Promise.race([ready, outcome.then(() => undefined)]);
  return { ready: readyOrDead, outcome, go: () => child.stdin.end('go\n') };
}

/** Transpiles `entry` and every module it imports by relative path, keeping the src/ layout. */
function transpileTree(entry: string, outDir: string): void {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: false,
      },
    });
    const target = path.join(outDir, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, outputText);
    // Type-only imports are gone from the output, so only modules needed at run time are followed.
    for (const match of outputText.matchAll(/(?:from|import)\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(path.resolve(path.dirname(file), `${match[1]}.ts`));
    }
  }
}
