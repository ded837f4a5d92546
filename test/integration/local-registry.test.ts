// The local Artifact Registry over real HTTP: pushes of directories become content-addressed
// images and INSERT notifications; bad pushes get Google-shaped errors and change nothing; the
// Artifact Registry v1 reads work through Google's own client.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ArtifactRegistryClient } from '@google-cloud/artifact-registry';
import { localClientOptions } from '../../services/shared/clients.ts';
import { containerArgv, parseDockerfile } from '../../services/shared/dockerfile.ts';
import {
  type LocalRegistry,
  type RegistryEvent,
  startLocalRegistry,
} from '../../local/registry/server.ts';

const IMAGE = 'us-central1-docker.pkg.dev/demo-project/apps/web';
let root: string;
let registry: LocalRegistry;
const published: RegistryEvent[] = [];

async function app(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, 'app-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}
const DOCKERFILE = 'FROM node:20-slim\nCOPY . .\nCMD ["node", "server.js"]\n';

async function push(body: unknown, raw?: string) {
  const res = await fetch(`${registry.url}/local/v1/images:push`, {
    method: 'POST',
    body: raw ?? JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      digest: string;
      digestRef: string;
      created: boolean;
      error: { message: string; status: string };
    },
  };
}

/** Everything the store holds, to prove a refused push changed nothing. */
async function storeState(): Promise<string> {
  const list = async (d: string): Promise<string[]> =>
    (await readdir(d, { recursive: true }).catch(() => [] as string[])).map(String).sort();
  return JSON.stringify([
    await list(join(root, 'store', 'manifests')),
    await list(join(root, 'store', 'tags')),
  ]);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'runway-registry-'));
  registry = await startLocalRegistry({
    root: join(root, 'store'),
    publish: async (e) => {
      published.push(e);
    },
  });
});
after(async () => {
  await registry.close();
  await rm(root, { recursive: true, force: true });
});

describe('pushes', () => {
  test("a push returns the digest and publishes Artifact Registry's INSERT notification", async () => {
    const dir = await app({ Dockerfile: DOCKERFILE, 'server.js': 'console.log(1)' });
    const { status, body } = await push({ dir, image: `${IMAGE}:v1` });
    assert.equal(status, 200);
    assert.match(body.digestRef, new RegExp(`^${IMAGE}@sha256:[0-9a-f]{64}$`));
    assert.deepEqual(published.at(-1), {
      action: 'INSERT',
      digest: body.digestRef,
      tag: `${IMAGE}:v1`,
    });
    const image = await registry.images.resolve(body.digestRef);
    assert.deepEqual(containerArgv(image.config), ['node', 'server.js']);
  });

  test('the same tree gets the same digest; any change gets a new one and moves the tag', async () => {
    const dir = await app({ Dockerfile: DOCKERFILE, 'server.js': 'a' });
    const first = (await push({ dir, image: `${IMAGE}:same` })).body;
    const again = (await push({ dir, image: `${IMAGE}:same` })).body;
    assert.equal(again.digest, first.digest);
    assert.equal(again.created, false);
    await writeFile(join(dir, 'server.js'), 'b');
    const changed = (await push({ dir, image: `${IMAGE}:same` })).body;
    assert.notEqual(changed.digest, first.digest);
    await chmod(join(dir, 'server.js'), 0o755);
    const mode = (await push({ dir, image: `${IMAGE}:same` })).body;
    assert.notEqual(mode.digest, changed.digest);
    assert.equal((await registry.images.resolve(`${IMAGE}:same`)).digest, mode.digest);
    assert.equal(
      (await registry.images.resolve(first.digestRef)).digest,
      first.digest,
      'old digests stay',
    );
  });

  test('.dockerignore keeps files out of the image and out of its digest', async () => {
    const dir = await app({
      Dockerfile: DOCKERFILE,
      'server.js': 'x',
      '.dockerignore': 'logs\n*.tmp\n**/secret.txt\n!keep.tmp\n',
      'logs/a.log': '1',
      'x.tmp': '1',
      'keep.tmp': '1',
      'deep/secret.txt': 's',
    });
    const { body } = await push({ dir, image: `${IMAGE}:ignored` });
    const image = await registry.store.resolve(body.digestRef);
    assert.deepEqual(image.manifest.files.map((f) => f.path).sort(), [
      '.dockerignore',
      'Dockerfile',
      'keep.tmp',
      'server.js',
    ]);
    await writeFile(join(dir, 'x.tmp'), 'changed');
    assert.equal((await push({ dir, image: `${IMAGE}:ignored` })).body.digest, body.digest);
  });

  const bad: {
    name: string;
    body?: (dir: string) => unknown;
    raw?: string;
    files?: Record<string, string>;
    setup?: (dir: string) => Promise<void>;
    status: number;
    message: RegExp;
  }[] = [
    { name: 'body not JSON', raw: '{', status: 400, message: /not valid JSON/ },
    {
      name: 'body over 64 KB',
      raw: JSON.stringify({ dir: 'x'.repeat(70_000) }),
      status: 413,
      message: /larger than/,
    },
    {
      name: 'no dir',
      body: () => ({ image: `${IMAGE}:v9` }),
      status: 400,
      message: /dir: the directory to push is required/,
    },
    {
      name: 'no image',
      body: (dir) => ({ dir }),
      status: 400,
      message: /image: the image reference is required/,
    },
    {
      name: 'a missing directory',
      body: (dir) => ({ dir: join(dir, 'nope'), image: `${IMAGE}:v9` }),
      status: 404,
      message: /does not exist/,
    },
    {
      name: 'a file, not a directory',
      body: (dir) => ({ dir: join(dir, 'Dockerfile'), image: `${IMAGE}:v9` }),
      status: 400,
      message: /is not a directory/,
    },
    {
      name: 'no Dockerfile',
      files: { 'server.js': 'x' },
      body: (dir) => ({ dir, image: `${IMAGE}:v9` }),
      status: 400,
      message: /Dockerfile does not exist/,
    },
    {
      name: 'a Dockerfile with nothing to run',
      files: { Dockerfile: 'FROM node:20\nCOPY . .\n' },
      body: (dir) => ({ dir, image: `${IMAGE}:v9` }),
      status: 400,
      message: /no CMD or ENTRYPOINT/,
    },
    {
      name: 'malformed exec form',
      files: { Dockerfile: 'FROM node\nCMD ["node", server.js]\n' },
      body: (dir) => ({ dir, image: `${IMAGE}:v9` }),
      status: 400,
      message: /Dockerfile:2: CMD looks like exec form/,
    },
    {
      name: 'a reference by digest',
      body: (dir) => ({ dir, image: `${IMAGE}@sha256:${'a'.repeat(64)}` }),
      status: 400,
      message: /not by digest/,
    },
    {
      name: 'a reference with capitals',
      body: (dir) => ({ dir, image: 'us-central1-docker.pkg.dev/demo-project/apps/Web:v1' }),
      status: 400,
      message: /invalid image reference/,
    },
    {
      name: "a reference outside Google's registries",
      body: (dir) => ({ dir, image: 'docker.io/library/web:v1' }),
      status: 400,
      message: /invalid image reference/,
    },
    {
      name: 'a symlink leaving the directory',
      setup: async (dir) => symlink('/etc/passwd', join(dir, 'leak')),
      body: (dir) => ({ dir, image: `${IMAGE}:v9` }),
      status: 400,
      message: /symbolic link leaving the directory/,
    },
  ];
  for (const c of bad) {
    test(`refused: ${c.name}`, async () => {
      const dir = await app(c.files ?? { Dockerfile: DOCKERFILE, 'server.js': 'x' });
      await c.setup?.(dir);
      const before = await storeState();
      const events = published.length;
      const { status, body } = await push(c.body?.(dir), c.raw);
      assert.equal(status, c.status, JSON.stringify(body));
      assert.match(body.error.message, c.message);
      assert.equal(typeof body.error.status, 'string');
      assert.equal(await storeState(), before);
      assert.equal(published.length, events);
    });
  }

  test('a digest never pushed is NOT_FOUND, as a missing image is on Cloud Run', async () => {
    await assert.rejects(
      registry.images.resolve(`${IMAGE}@sha256:${'0'.repeat(64)}`),
      /Image '.*' not found/,
    );
  });
});

describe("Artifact Registry v1 through Google's client", () => {
  let client: ArtifactRegistryClient;
  before(() => {
    client = new ArtifactRegistryClient(localClientOptions(registry.host));
  });
  after(() => client.close());
  const repo = 'projects/demo-project/locations/us-central1/repositories/apps';

  test('getTag answers the digest a tag points at, also for nested image paths', async () => {
    const dir = await app({ Dockerfile: DOCKERFILE, 'server.js': 'nested' });
    const { body } = await push({
      dir,
      image: 'us-central1-docker.pkg.dev/demo-project/apps/team/api:prod',
    });
    const [tag] = await client.getTag({
      name: `${repo}/packages/${encodeURIComponent('team/api')}/tags/prod`,
    });
    assert.ok(tag.version?.endsWith(`/versions/${body.digest}`), tag.version ?? '');
    const [tags] = await client.listTags({
      parent: `${repo}/packages/${encodeURIComponent('team/api')}`,
    });
    assert.deepEqual(
      tags.map((t) => t.name?.split('/').pop()),
      ['prod'],
    );
  });

  test('a missing tag is NOT_FOUND', async () => {
    await assert.rejects(
      client.getTag({ name: `${repo}/packages/web/tags/never` }),
      (err: { code?: number }) => err.code === 404 || err.code === 5,
    );
  });

  test('getRepository answers a repository an image was pushed into, as a DOCKER repository', async () => {
    const [r] = await client.getRepository({ name: repo });
    assert.equal(r.name, repo);
    assert.equal(String(r.format), 'DOCKER');
  });

  test('a repository nothing was pushed into is NOT_FOUND', async () => {
    await assert.rejects(
      client.getRepository({
        name: 'projects/demo-project/locations/us-central1/repositories/empty',
      }),
      (err: { code?: number }) => err.code === 404 || err.code === 5,
    );
  });

  test('listDockerImages lists pushed images with their tags', async () => {
    const [images] = await client.listDockerImages({ parent: repo });
    const web = images.find((i) => i.uri?.startsWith(`${IMAGE}@`) && i.tags?.includes('v1'));
    assert.ok(web, JSON.stringify(images.map((i) => [i.uri, i.tags])));
  });
});

describe('Dockerfiles', () => {
  const cases: { name: string; text: string; argv: string[]; env?: Record<string, string> }[] = [
    { name: 'exec CMD', text: 'FROM a\nCMD ["node", "s.js"]', argv: ['node', 's.js'] },
    {
      name: 'shell CMD',
      text: 'FROM a\nCMD node s.js --x',
      argv: ['/bin/sh', '-c', 'node s.js --x'],
    },
    {
      name: 'exec ENTRYPOINT and CMD',
      text: 'FROM a\nENTRYPOINT ["node"]\nCMD ["s.js"]',
      argv: ['node', 's.js'],
    },
    {
      name: 'shell ENTRYPOINT ignores CMD',
      text: 'FROM a\nENTRYPOINT node s.js\nCMD ["x"]',
      argv: ['/bin/sh', '-c', 'node s.js'],
    },
    {
      name: 'the last stage counts',
      text: 'FROM a AS build\nENV A=1\nCMD ["build"]\nFROM b\nCMD ["run"]',
      argv: ['run'],
      env: {},
    },
    {
      name: 'ENV forms and continuations',
      text: 'FROM a\nENV A=1 B="two words"\nENV C 3\nCMD ["node", \\\n  "s.js"]',
      argv: ['node', 's.js'],
      env: { A: '1', B: 'two words', C: '3' },
    },
    { name: 'lowercase keywords and comments', text: '# x\nfrom a\n# y\ncmd ["go"]', argv: ['go'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const config = parseDockerfile(c.text);
      assert.deepEqual(containerArgv(config), c.argv);
      if (c.env) assert.deepEqual(config.env, c.env);
    });
  }
  test('Cloud Run overrides: command replaces ENTRYPOINT and drops CMD; args replace CMD', () => {
    const config = parseDockerfile('FROM a\nENTRYPOINT ["node"]\nCMD ["s.js"]');
    assert.deepEqual(containerArgv(config, { command: ['sh'] }), ['sh']);
    assert.deepEqual(containerArgv(config, { args: ['t.js'] }), ['node', 't.js']);
    assert.deepEqual(containerArgv(config, { command: ['sh'], args: ['-c', 'x'] }), [
      'sh',
      '-c',
      'x',
    ]);
  });
  test('no FROM is refused', () => {
    assert.throws(() => parseDockerfile('CMD ["x"]'), /no FROM/);
  });
});
