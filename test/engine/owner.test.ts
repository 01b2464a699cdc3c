/**
 * Lease owners are recognised by host, PID and the process's start time, so that a dead owner is
 * never taken for alive because another process now has its PID (real processes, no mocks).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { newOwner, ownerMayBeAlive, parseOwner, processStartTime } from '../../src/engine/owner.js';

const children: ChildProcess[] = [];

function startSleeper(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await exited(child);
  }
});

describe('lease owner identity', () => {
  it('names this host, this process and its start time', () => {
    const identity = parseOwner(newOwner());
    expect(identity).toEqual({ host: hostname(), pid: process.pid, start: processStartTime(process.pid) });
    expect(ownerMayBeAlive(newOwner())).toBe(true);
    // Two owners in one process are told apart.
    expect(newOwner()).not.toBe(newOwner());
  });

  it('a live process with the recorded start time is alive; once SIGKILLed it is dead', async () => {
    const child = startSleeper();
    const start = processStartTime(child.pid!);
    const owner = `${hostname()}/${child.pid}/${start ?? '-'}/abc123`;
    expect(ownerMayBeAlive(owner)).toBe(true);
    child.kill('SIGKILL');
    await exited(child);
    expect(ownerMayBeAlive(owner)).toBe(false);
  });

  it('a reused PID: a live PID with another start time is a dead owner', () => {
    // The recorded owner had this PID before; the process now holding it started later.
    const reuser = startSleeper();
    const recorded = `${hostname()}/${reuser.pid}/${processStartTime(process.pid)}/dead01`;
    expect(processStartTime(reuser.pid!)).not.toBe(processStartTime(process.pid));
    expect(ownerMayBeAlive(recorded)).toBe(false);
    // Even our own PID, recorded by an earlier process that had it, is not us.
    expect(ownerMayBeAlive(`${hostname()}/${process.pid}/0.1/dead02`)).toBe(false);
  });

  it('owners recorded without a start time are judged by their PID, as before', async () => {
    const child = startSleeper();
    expect(ownerMayBeAlive(`${hostname()}/${child.pid}/abc123`)).toBe(true);
    expect(ownerMayBeAlive(`${hostname()}/${child.pid}/-/abc123`)).toBe(true);
    child.kill('SIGKILL');
    await exited(child);
    expect(ownerMayBeAlive(`${hostname()}/${child.pid}/abc123`)).toBe(false);
  });

  it('an owner on another host may be alive (only its lease tells)', () => {
    expect(ownerMayBeAlive(`not-${hostname()}/1/0.1/abc123`)).toBe(true);
    expect(ownerMayBeAlive(null)).toBe(false);
  });
});
