import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { promptHook, type PromptShell } from '../../src/cli/prompt-hooks.js';
import {
  formatPromptState,
  parsePromptState,
  recordIdentity,
  type PromptState,
} from '../../src/cli/prompt-state.js';
import { BERTH_BIN } from '../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'berth-prompt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;

const STATE: PromptState = {
  default: 'local',
  context: null,
  envs: [
    { name: 'local', protected: false, color: 'green', provider: 'local', identity: 'rtm-1' },
    { name: 'production', protected: true, color: 'red', provider: 'aws', identity: '123456789012' },
  ],
};

/** A data dir with a config and a state file newer than it, and a stand-in for berth that logs its calls. */
function dataDirWith(state: PromptState) {
  const dir = join(root, `d${++dirs}`);
  execFileSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'berth.config.yaml'), 'environments: {}\n');
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(dir, 'berth.config.yaml'), past, past);
  writeFileSync(join(dir, 'prompt.tsv'), formatPromptState(state));
  const calls = join(dir, 'calls.log');
  const fake = join(dir, 'fake-berth.sh');
  writeFileSync(fake, `#!/bin/sh\necho "$@" >> '${calls}'\n`);
  chmodSync(fake, 0o755);
  return { dir, calls, fake };
}

/** Runs `script` in `shell` after loading the hook; stdout, trimmed. */
function inShell(shell: PromptShell, hook: string, script: string, env: Record<string, string> = {}): string {
  const file = join(root, `hook-${++dirs}.${shell}`);
  writeFileSync(file, hook);
  const args: Record<PromptShell, string[]> = {
    bash: ['--norc', '--noprofile', '-c', `source ${file}\n${script}`],
    zsh: ['-f', '-c', `source ${file}\n${script}`],
    fish: ['--no-config', '-c', `source ${file}\n${script}`],
  };
  const result = spawnSync(shell, args[shell], {
    env: { PATH: process.env.PATH!, HOME: root, ...env },
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  return result.stdout.trim();
}

describe('the prompt state file', () => {
  it('round-trips, and never lets a value break the tab-separated lines', () => {
    const odd: PromptState = { ...STATE, context: 'team\tx\ny' };
    const parsed = parsePromptState(formatPromptState(odd));
    expect(parsed.envs).toEqual(STATE.envs);
    expect(parsed.context).toBe('team x y');
  });

  it('records a verified identity only when it changes', () => {
    const { dir } = dataDirWith(STATE);
    recordIdentity(dir, 'production', '210987654321');
    expect(readFileSync(join(dir, 'prompt.tsv'), 'utf8')).toContain('\t210987654321');
  });
});

describe.each(['bash', 'zsh', 'fish'] as const)('the %s prompt hook', (shell) => {
  const call =
    shell === 'fish' ? '__berth_prompt; echo $BERTH_PROMPT' : '__berth_prompt; echo "$BERTH_PROMPT"';
  const setEnv = (name: string) => (shell === 'fish' ? `set -gx BERTH_ENV ${name}` : `BERTH_ENV=${name}`);

  it('names the default environment, or $BERTH_ENV, with PROTECTED and the verified AWS account', () => {
    const { dir, fake } = dataDirWith(STATE);
    const hook = promptHook(shell, { berth: [fake], dataDir: dir });
    expect(inShell(shell, hook, call)).toBe('berth:local');
    expect(inShell(shell, hook, `${setEnv('production')}\n${call}`)).toBe(
      'berth:production!PROTECTED:123456789012',
    );
    expect(inShell(shell, hook, `${setEnv('prod')}\n${call}`)).toBe('berth:prod?');
    const withContext = dataDirWith({ ...STATE, context: 'team' });
    expect(inShell(shell, promptHook(shell, { berth: [fake], dataDir: withContext.dir }), call)).toBe(
      'berth[team]:local',
    );
  });

  it('follows $BERTH_HOME when no data dir was given', () => {
    const { dir, fake } = dataDirWith(STATE);
    expect(inShell(shell, promptHook(shell, { berth: [fake] }), call, { BERTH_HOME: dir })).toBe(
      'berth:local',
    );
  });

  it('starts no program at a prompt, and one refresh when the config was edited', () => {
    const { dir, calls, fake } = dataDirWith(STATE);
    const hook = promptHook(shell, { berth: [fake], dataDir: dir });
    const loop =
      shell === 'fish'
        ? 'for i in (seq 50); __berth_prompt; end; echo $BERTH_PROMPT'
        : 'for i in $(seq 50); do __berth_prompt; done; echo "$BERTH_PROMPT"';
    expect(inShell(shell, hook, loop)).toBe('berth:local');
    expect(existsSync(calls)).toBe(false);

    writeFileSync(join(dir, 'berth.config.yaml'), 'environments: {}\n# edited\n');
    inShell(shell, hook, loop);
    // The refresh runs in the background: wait for its one call.
    const giveUp = Date.now() + 10_000;
    while (!existsSync(calls) && Date.now() < giveUp) execFileSync('sleep', ['0.05']);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([`prompt --refresh --data-dir ${dir}`]);
  });
});

describe('berth prompt --init in a real interactive bash', () => {
  it('shows the segment in the prompt, in colour, and picks up an edited config', () => {
    const dir = join(root, 'real');
    const berth = (...args: string[]) =>
      execFileSync(process.execPath, [BERTH_BIN, ...args, '--data-dir', dir], { encoding: 'utf8' });
    berth('env', 'ls', '--direct'); // writes the default config, and the state file with it
    const hook = berth('prompt', '--init', 'bash');
    const rc = join(root, 'rc.bash');
    writeFileSync(rc, `PS1='$ '\n${hook}`);
    const session = (input: string) =>
      spawnSync('script', ['-q', '-c', `bash --rcfile ${rc} -i`, '/dev/null'], {
        input,
        encoding: 'utf8',
        env: { PATH: process.env.PATH!, HOME: root, TERM: 'dumb' },
      }).stdout;
    const screen = session('BERTH_ENV=production\nexit\n');
    expect(screen).toContain('\x1b[32mberth:local\x1b[0m $ ');
    expect(screen).toContain('\x1b[1;31mberth:production!PROTECTED\x1b[0m $ ');

    // An edit behind berth's back: the hook refreshes the state file once, in the background.
    const config = join(dir, 'berth.config.yaml');
    writeFileSync(config, `${readFileSync(config, 'utf8')}\n  qa: { provider: local, color: blue }\n`);
    session('exit\n');
    const giveUp = Date.now() + 20_000;
    while (!readFileSync(join(dir, 'prompt.tsv'), 'utf8').includes('\nenv\tqa\t') && Date.now() < giveUp) {
      execFileSync('sleep', ['0.1']);
    }
    expect(session('BERTH_ENV=qa\nexit\n')).toContain('\x1b[34mberth:qa\x1b[0m $ ');
  });
});
