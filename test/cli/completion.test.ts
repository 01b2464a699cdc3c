import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLES, runCli } from '../helpers/cli.js';
import { startTestRuntime, type TestRuntime } from '../helpers/runtime.js';

describe('berth completion', () => {
  let runtime: TestRuntime;
  let dir: string;
  const script = async (shell: string) => {
    const result = await runCli(['completion', shell], { dataDir: runtime.dataDir });
    expect(result.code, result.stderr).toBe(0);
    const file = join(runtime.dataDir, `completion.${shell}`);
    writeFileSync(file, result.stdout);
    return file;
  };

  beforeAll(async () => {
    runtime = await startTestRuntime();
    dir = runtime.dataDir;
    const deployed = await runCli(['deploy', join(EXAMPLES, 'hello'), '--env', 'local'], { dataDir: dir });
    expect(deployed.code, deployed.stderr).toBe(0);
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('bash completes commands, options, subcommands, environments, services and paths', async () => {
    const file = await script('bash');
    const complete = (...words: string[]) => {
      const body = `source ${file}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})\nCOMP_CWORD=${words.length - 1}\n_berth\necho "\${COMPREPLY[*]}"`;
      const result = spawnSync('bash', ['--norc', '--noprofile', '-c', body], {
        encoding: 'utf8',
        cwd: EXAMPLES,
      });
      expect(result.stderr).toBe('');
      return result.stdout.trim().split(' ');
    };
    expect(complete('berth', 'de')).toEqual(['demo', 'deploy', 'delete']);
    expect(complete('berth', 'deploy', '--he')).toEqual(['--health-timeout', '--help']);
    expect(complete('berth', 'status', '--')).toContain('--env');
    expect(complete('berth', 'env', '')).toEqual(expect.arrayContaining(['ls', 'show', 'init']));
    expect(complete('berth', '--data-dir', dir, '--env', '')).toEqual(['local', 'staging', 'production']);
    expect(complete('berth', 'status', '--data-dir', dir, '')).toEqual(['hello']);
    expect(complete('berth', 'runtime', 'logs', '--data-dir', dir, 'h')).toEqual(['hello']);
    expect(complete('berth', 'events', '--env', 'staging', '--data-dir', dir, '')).toEqual(['']);
    expect(complete('berth', 'deploy', 'hel')).toEqual(['hello']);
  });

  it('fish completes the same, with descriptions', async () => {
    const file = await script('fish');
    const complete = (line: string) =>
      spawnSync('fish', ['--no-config', '-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .map((row) => row.split('\t')[0]);
    expect(complete('berth dep')).toEqual(['deploy']);
    expect(complete(`berth --data-dir ${dir} --env `)).toEqual(['local', 'production', 'staging']);
    expect(complete(`berth delete --data-dir ${dir} `)).toEqual(['hello']);
    expect(complete('berth runtime ')).toEqual(expect.arrayContaining(['kill', 'logs', 'ls']));
  });

  it('zsh loads it through bashcompinit', async () => {
    const file = await script('zsh');
    const result = spawnSync('zsh', ['-f', '-c', `source ${file} && whence -w _berth`], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('_berth: function');
  });

  it('names come from local files only and cost no provider call', async () => {
    const names = await runCli(['__complete', 'services', '--env', 'local'], { dataDir: dir });
    expect(names).toMatchObject({ code: 0, stdout: 'hello\n', stderr: '' });
    // Not in --help or in completion: it is for the scripts.
    expect((await runCli(['--help'], { dataDir: dir })).stdout).not.toContain('__complete');
  });
});
