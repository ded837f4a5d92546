// `runway console`: its flags, the browser it opens, and what it says with no stack to show.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { main } from '../main.ts';
import { browserCommand, parsePort } from './console.ts';

describe('runway console', () => {
  const ports: { name: string; flags: [string, string | true][]; want: number | RegExp }[] = [
    { name: 'none: any free port', flags: [], want: 0 },
    { name: 'a port', flags: [['port', '8080']], want: 8080 },
    { name: 'too big', flags: [['port', '65536']], want: /--port must be a whole number/ },
    { name: 'not a number', flags: [['port', 'web']], want: /--port must be/ },
    { name: 'a fraction', flags: [['port', '80.5']], want: /--port must be/ },
  ];
  for (const c of ports)
    test(`--port: ${c.name}`, () => {
      const flags = new Map(c.flags);
      if (typeof c.want === 'number') assert.equal(parsePort(flags), c.want);
      else assert.throws(() => parsePort(flags), c.want);
    });

  const browsers: {
    name: string;
    platform: NodeJS.Platform;
    env: NodeJS.ProcessEnv;
    want: [string, string[]];
  }[] = [
    {
      name: '$BROWSER wins',
      platform: 'linux',
      env: { BROWSER: 'firefox' },
      want: ['firefox', ['http://x']],
    },
    { name: 'Linux', platform: 'linux', env: {}, want: ['xdg-open', ['http://x']] },
    { name: 'macOS', platform: 'darwin', env: {}, want: ['open', ['http://x']] },
    {
      name: 'Windows',
      platform: 'win32',
      env: {},
      want: ['cmd', ['/c', 'start', '""', 'http://x']],
    },
  ];
  for (const c of browsers)
    test(`opens the browser: ${c.name}`, () =>
      assert.deepEqual(browserCommand('http://x', c.platform, c.env), c.want));

  async function run(args: string[], home: string) {
    const err = new PassThrough();
    let stderr = '';
    err.on('data', (d) => (stderr += d));
    const code = await main(args, {
      stdout: new PassThrough(),
      stderr: err,
      env: { RUNWAY_HOME: home },
      cwd: home,
      stopSignal: new Promise(() => {}),
    });
    return { code, stderr };
  }

  const refusals: { name: string; args: string[]; code: number; want: RegExp }[] = [
    {
      name: 'no local stack',
      args: ['console', '--no-open'],
      code: 2,
      want: /no local stack is running/,
    },
    { name: 'a positional', args: ['console', 'web'], code: 2, want: /usage: runway console/ },
    {
      name: '--as on Google',
      args: ['console', '--project', 'p', '--region', 'r', '--as', 'user:a@b.c'],
      code: 2,
      want: /--as is for the local cloud/,
    },
    { name: 'an unknown flag', args: ['console', '--open'], code: 2, want: /unknown flag --open/ },
  ];
  for (const c of refusals)
    test(`refused: ${c.name}`, async () => {
      const home = await mkdtemp(join(tmpdir(), 'runway-console-cli-'));
      try {
        const r = await run(c.args, home);
        assert.equal(r.code, c.code, r.stderr);
        assert.match(r.stderr, c.want);
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    });
});
