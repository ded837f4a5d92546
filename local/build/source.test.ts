// The source `runway local build` uploads: gcloud's .gcloudignore rules, its default rules for a
// git checkout, and the tarball they make.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import * as tar from 'tar';
import { ignoreRules, SourceError, sourceFiles, sourceTarball } from './source.ts';

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'runway-source-'));
  for (const [path, text] of Object.entries(files)) {
    if (path.endsWith('/')) await mkdir(join(dir, path), { recursive: true });
    else {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
  }
  return dir;
}

describe('which files gcloud would upload', () => {
  const cases: { name: string; files: Record<string, string>; want: string[] }[] = [
    {
      name: 'no .gcloudignore and not a git checkout: everything',
      files: { 'a.txt': '', 'node_modules/x.js': '', '.env': '' },
      want: ['.env', 'a.txt', 'node_modules/', 'node_modules/x.js'],
    },
    {
      name: "a git checkout without .gcloudignore: gcloud's defaults and what .gitignore ignores",
      files: {
        '.git/HEAD': '',
        '.gitignore': 'node_modules\n*.log\n',
        'a.txt': '',
        'debug.log': '',
        'node_modules/x.js': '',
        'src/b.ts': '',
      },
      want: ['a.txt', 'src/', 'src/b.ts'],
    },
    {
      name: 'a .git directory alone still gets the defaults (no .gitignore to include)',
      files: { '.git/HEAD': '', 'a.txt': '', '.gcloudignore.bak': '' },
      want: ['.gcloudignore.bak', 'a.txt'],
    },
    {
      name: '.gcloudignore wins: .gitignore is not read unless included',
      files: {
        '.gcloudignore': 'secret/\n',
        '.gitignore': 'a.txt\n',
        'a.txt': '',
        'secret/key': '',
      },
      want: ['.gcloudignore', '.gitignore', 'a.txt'],
    },
    {
      name: '#!include:.gitignore inserts its rules where the line is; a later ! re-includes',
      files: {
        '.gcloudignore': '.gcloudignore\n#!include:.gitignore\n!keep.log\n',
        '.gitignore': '*.log\n',
        'drop.log': '',
        'keep.log': '',
      },
      want: ['.gitignore', 'keep.log'],
    },
    {
      name: 'an ignored directory is not entered: a ! rule cannot bring back a file under it',
      files: { '.gcloudignore': 'build/\n!build/keep.txt\n', 'build/keep.txt': '', 'x/': '' },
      want: ['.gcloudignore', 'x/'],
    },
    {
      name: 'a leading slash anchors a rule at the top; a bare name matches at any depth',
      files: {
        '.gcloudignore': '/top.txt\nany.txt\n',
        'top.txt': '',
        'sub/top.txt': '',
        'sub/any.txt': '',
        'any.txt': '',
      },
      want: ['.gcloudignore', 'sub/', 'sub/top.txt'],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = await tree(c.files);
      try {
        const { rules } = await ignoreRules(dir);
        assert.deepEqual(await sourceFiles(dir, rules), c.want);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('ignore files gcloud refuses', () => {
  const cases: { name: string; files: Record<string, string>; error: RegExp }[] = [
    {
      name: 'an include of a file in another directory',
      files: { '.gcloudignore': '#!include:sub/.gitignore\n', 'sub/.gitignore': '' },
      error: /may only include files in the same directory/,
    },
    {
      name: 'an include of a file that does not exist',
      files: { '.gcloudignore': '#!include:.missing\n' },
      error: /the included file .*\.missing cannot be read/,
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = await tree(c.files);
      try {
        await assert.rejects(ignoreRules(dir), (err: Error) => {
          assert.ok(err instanceof SourceError);
          assert.match(err.message, c.error);
          return true;
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('the tarball', () => {
  test('holds the chosen files with their content, relative paths and symlinks as links', async () => {
    const dir = await tree({
      '.gcloudignore': 'ignored/\n',
      'a.txt': 'alpha\n',
      'sub/b.txt': 'beta\n',
      'ignored/c.txt': 'no',
      'empty/': '',
    });
    const out = await mkdtemp(join(tmpdir(), 'runway-source-out-'));
    try {
      await symlink('a.txt', join(dir, 'link'));
      const { data, files } = await sourceTarball(dir);
      assert.equal(data.subarray(0, 2).toString('hex'), '1f8b', 'gzipped');
      const entries: string[] = [];
      await pipeline(
        Readable.from([data]),
        tar.t({ onReadEntry: (e) => entries.push(`${e.type}:${e.path}`) }),
      );
      assert.deepEqual(entries.sort(), [
        'Directory:empty/',
        'Directory:sub/',
        'File:.gcloudignore',
        'File:a.txt',
        'File:sub/b.txt',
        'SymbolicLink:link',
      ]);
      assert.equal(files, 6);
      await pipeline(Readable.from([data]), tar.x({ cwd: out }));
      assert.equal(await readFile(join(out, 'sub', 'b.txt'), 'utf8'), 'beta\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(out, { recursive: true, force: true });
    }
  });

  test('a directory whose rules leave nothing is refused with a message', async () => {
    const dir = await tree({ '.gcloudignore': '*\n' });
    try {
      await assert.rejects(sourceTarball(dir), /nothing to upload/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
