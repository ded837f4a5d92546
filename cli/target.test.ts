// Where a command acts: the local stack from --home or RUNWAY_HOME, or Google with --project and
// --region; and which runway.yaml gives the pipelines' settings.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseArgs } from './args.ts';
import { pipelineOf, resolveTarget, targetFlags } from './target.ts';

let dir: string;
let home: string;
const CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: web
    image: us-central1-docker.pkg.dev/local-project/apps/web
    staging: { service: web-staging }
    live: { service: web }
    acceptance: { job: web-acceptance }
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'runway-target-'));
  home = join(dir, 'stack');
  await writeFile(join(dir, 'runway.yaml'), CONFIG);
  await mkdir(home);
  await writeFile(
    join(home, 'stack.json'),
    JSON.stringify({
      run: 'http://127.0.0.1:1',
      workflows: 'http://127.0.0.1:2',
      deployer: 'http://127.0.0.1:3',
      project: 'local-project',
      region: 'us-central1',
      config: join(dir, 'runway.yaml'),
      timeScale: 20,
    }),
  );
});
after(() => rm(dir, { recursive: true, force: true }));

describe('resolveTarget', () => {
  const cases: {
    name: string;
    argv: string[];
    env?: Record<string, string>;
    want:
      | { kind: string; project: string; region: string; workflow: string; config: string }
      | RegExp;
  }[] = [
    {
      name: '--home: the stack there, its runway.yaml',
      argv: ['--home', 'stack'],
      want: {
        kind: 'local',
        project: 'local-project',
        region: 'us-central1',
        workflow: 'runway-release',
        config: 'runway.yaml',
      },
    },
    {
      name: 'RUNWAY_HOME, and --config wins over the stack’s',
      argv: ['--config', 'other.yaml'],
      env: { RUNWAY_HOME: 'stack' },
      want: {
        kind: 'local',
        project: 'local-project',
        region: 'us-central1',
        workflow: 'runway-release',
        config: 'other.yaml',
      },
    },
    {
      name: 'Google: --project and --region, ./runway.yaml, another workflow name',
      argv: ['--project', 'my-project', '--region', 'europe-west1', '--workflow', 'rel'],
      want: {
        kind: 'google',
        project: 'my-project',
        region: 'europe-west1',
        workflow: 'rel',
        config: 'runway.yaml',
      },
    },
    { name: 'no stack', argv: ['--home', 'nowhere'], want: /no local stack is running/ },
    {
      name: '--project without --region',
      argv: ['--project', 'p'],
      want: /--project needs --region/,
    },
    {
      name: '--region without --project',
      argv: ['--region', 'r'],
      want: /--region needs --project/,
    },
    {
      name: '--home with --project',
      argv: ['--project', 'p', '--region', 'r', '--home', 'stack'],
      want: /--home is for the local cloud/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { flags } = parseArgs(c.argv, targetFlags);
      const run = resolveTarget(flags, { cwd: dir, env: c.env ?? {} });
      if (c.want instanceof RegExp) {
        await assert.rejects(run, { name: 'UsageError', message: c.want });
        return;
      }
      const t = await run;
      assert.deepEqual(
        {
          kind: t.kind,
          project: t.project,
          region: t.region,
          workflow: t.workflow,
          config: t.configPath?.slice(dir.length + 1),
        },
        c.want,
      );
    });
  }
});

describe('pipelineOf', () => {
  test('a pipeline of the stack’s runway.yaml', async () => {
    const t = await resolveTarget(parseArgs(['--home', 'stack'], targetFlags).flags, {
      cwd: dir,
      env: {},
    });
    assert.deepEqual((await pipelineOf(t, 'web')).pipeline.live, { service: 'web' });
    await assert.rejects(pipelineOf(t, 'api'), {
      name: 'Refused',
      message: /no pipeline named api in .*runway\.yaml \(pipelines: web\)/,
    });
  });
  test('no runway.yaml to read: bad usage, naming --config', async () => {
    const t = await resolveTarget(
      parseArgs(['--home', 'stack', '--config', 'missing.yaml'], targetFlags).flags,
      { cwd: dir, env: {} },
    );
    await assert.rejects(pipelineOf(t, 'web'), {
      name: 'UsageError',
      message: /cannot read the pipelines' configuration .*missing\.yaml.*pass --config/,
    });
  });
});
