import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LocalStorage, ObjectStore, parseMultipart, startLocalStorage } from './server.ts';

let storage: LocalStorage;
before(async () => {
  storage = await startLocalStorage({
    store: new ObjectStore({ objectBytes: 1024 * 1024, totalBytes: 4 * 1024 * 1024 }),
  });
});
after(() => storage.close());

const call = async (
  method: string,
  path: string,
  body?: string | Uint8Array,
  headers: Record<string, string> = {},
) => {
  const res = await fetch(`${storage.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
    headers,
    redirect: 'manual',
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each read field by field in an assert
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json, headers: res.headers };
};

describe('buckets', () => {
  test('insert, get, list by project and prefix; a second insert conflicts', async () => {
    const made = await call(
      'POST',
      '/storage/v1/b?project=p1',
      JSON.stringify({ name: 'p1_cloudbuild', location: 'us-central1' }),
    );
    assert.equal(made.status, 200, made.text);
    assert.equal(made.json.name, 'p1_cloudbuild');
    assert.equal(made.json.location, 'US-CENTRAL1');
    assert.equal((await call('GET', '/storage/v1/b/p1_cloudbuild')).json.id, 'p1_cloudbuild');
    const list = await call('GET', '/storage/v1/b?project=p1&prefix=p1_cloud');
    assert.deepEqual(
      list.json.items.map((b: { id: string }) => b.id),
      ['p1_cloudbuild'],
    );
    assert.deepEqual((await call('GET', '/storage/v1/b?project=other')).json.items, []);
    const again = await call(
      'POST',
      '/storage/v1/b?project=p1',
      JSON.stringify({ name: 'p1_cloudbuild' }),
    );
    assert.equal(again.status, 409);
    assert.match(again.json.error.message, /you already own it/);
  });

  const bad: [string, string, number, RegExp][] = [
    ['a missing bucket', 'GET /storage/v1/b/nope', 404, /The specified bucket does not exist/],
    ['no project', 'POST /storage/v1/b {"name":"abc"}', 400, /Required parameter: project/],
    ['upper case', 'POST /storage/v1/b?project=p {"name":"ABC"}', 400, /Invalid bucket name/],
    ['too short', 'POST /storage/v1/b?project=p {"name":"ab"}', 400, /Invalid bucket name/],
    [
      'google in the name',
      'POST /storage/v1/b?project=p {"name":"my-google-b"}',
      400,
      /Invalid bucket name/,
    ],
    [
      'an IP address',
      'POST /storage/v1/b?project=p {"name":"192.168.1.1"}',
      400,
      /Invalid bucket name/,
    ],
    [
      '64 characters',
      `POST /storage/v1/b?project=p {"name":"${'a'.repeat(64)}"}`,
      400,
      /Invalid bucket name/,
    ],
    ['not JSON', 'POST /storage/v1/b?project=p {name', 400, /not valid JSON/],
    [
      'an unknown path',
      'GET /storage/v2/whatever',
      404,
      /not found on this server \(the local Cloud Storage\)/,
    ],
    ['bad percent-encoding', 'GET /storage/v1/b/%E0%A4%A', 400, /not valid percent-encoding/],
  ];
  for (const [name, request, status, pattern] of bad) {
    test(`refuses ${name}`, async () => {
      const [method, rest] = request.split(' ', 2) as [string, string];
      const body = request.slice(method.length + rest.length + 2);
      const r = await call(method, rest, body || undefined);
      assert.equal(r.status, status, r.text);
      assert.match(r.json.error.message, pattern);
    });
  }
});

describe('objects', () => {
  before(async () => {
    await call('POST', '/storage/v1/b?project=p1', JSON.stringify({ name: 'objs' }));
  });

  test('media upload, metadata, alt=media and ranges as gcloud builds log reads them', async () => {
    const up = await call(
      'POST',
      '/upload/storage/v1/b/objs/o?uploadType=media&name=logs/log-1.txt',
      'hello world',
      { 'content-type': 'text/plain' },
    );
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.size, '11');
    assert.equal(up.json.name, 'logs/log-1.txt');
    const meta = await call('GET', '/storage/v1/b/objs/o/logs%2Flog-1.txt');
    assert.equal(meta.json.contentType, 'text/plain');
    assert.equal(meta.json.md5Hash, 'XrY7u+Ae7tCTyyK7j1rNww==');
    assert.equal(
      (await call('GET', '/storage/v1/b/objs/o/logs%2Flog-1.txt?alt=media')).text,
      'hello world',
    );
    const part = await call('GET', '/storage/v1/b/objs/o/logs%2Flog-1.txt?alt=media', undefined, {
      range: 'bytes=6-',
    });
    assert.equal(part.status, 206);
    assert.equal(part.text, 'world');
    const past = await call('GET', '/storage/v1/b/objs/o/logs%2Flog-1.txt?alt=media', undefined, {
      range: 'bytes=11-',
    });
    assert.equal(past.status, 416);
    const list = await call('GET', '/storage/v1/b/objs/o?prefix=logs/');
    assert.deepEqual(
      list.json.items.map((o: { name: string }) => o.name),
      ['logs/log-1.txt'],
    );
  });

  test("multipart upload with apitools' quoted boundary", async () => {
    const boundary = '===============7330845974216740156==';
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\ncontent-type: application/json\nMIME-Version: 1.0\n\n{"name": "source/x.tgz", "size": "4"}\n--${boundary}\ncontent-type: application/gzip\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\n\n`,
      ),
      Buffer.from([0x1f, 0x8b, 0x0a, 0x0d]),
      Buffer.from(`\n--${boundary}--`),
    ]);
    const up = await call('POST', '/upload/storage/v1/b/objs/o?uploadType=multipart', body, {
      'content-type': `multipart/related; boundary='${boundary}'`,
    });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.json.size, '4');
    assert.equal(up.json.contentType, 'application/gzip');
    assert.deepEqual([...storage.store.get('objs', 'source/x.tgz').data], [0x1f, 0x8b, 0x0a, 0x0d]);
  });

  test('multipart with CRLF and a double-quoted boundary', () => {
    const body = Buffer.from(
      '--b\r\nContent-Type: application/json\r\n\r\n{"name":"a"}\r\n--b\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n--b--\r\n',
    );
    const out = parseMultipart(body, 'multipart/related; boundary="b"');
    assert.equal(out.metadata.name, 'a');
    assert.equal(out.media.toString(), 'line1\r\nline2');
  });

  test('resumable upload in two chunks', async () => {
    const start = await call(
      'POST',
      '/upload/storage/v1/b/objs/o?uploadType=resumable',
      JSON.stringify({ name: 'big.tgz' }),
      {
        'content-type': 'application/json',
        'x-upload-content-type': 'application/gzip',
      },
    );
    assert.equal(start.status, 200, start.text);
    const location = start.headers.get('location')!;
    assert.match(location, /upload_id=/);
    const first = await fetch(location, {
      method: 'PUT',
      body: 'abc',
      headers: { 'content-range': 'bytes 0-2/6' },
    });
    assert.equal(first.status, 308);
    assert.equal(first.headers.get('range'), 'bytes=0-2');
    const second = await fetch(location, {
      method: 'PUT',
      body: 'def',
      headers: { 'content-range': 'bytes 3-5/6' },
    });
    assert.equal(second.status, 200);
    assert.equal(storage.store.get('objs', 'big.tgz').data.toString(), 'abcdef');
    assert.equal(storage.store.get('objs', 'big.tgz').contentType, 'application/gzip');
    assert.equal((await fetch(location, { method: 'PUT', body: 'x' })).status, 404);
  });

  test('ifGenerationMatch=0 creates only', async () => {
    const path = '/upload/storage/v1/b/objs/o?uploadType=media&name=once&ifGenerationMatch=0';
    assert.equal((await call('POST', path, 'a')).status, 200);
    assert.equal((await call('POST', path, 'b')).status, 412);
  });

  const bad: [
    string,
    // biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each read field by field in an assert
    () => Promise<{ status: number; json: Record<string, any> }>,
    number,
    RegExp,
  ][] = [
    [
      'an upload to a missing bucket',
      () => call('POST', '/upload/storage/v1/b/nope/o?uploadType=media&name=a', 'x'),
      404,
      /bucket does not exist/,
    ],
    [
      'a media upload without name',
      () => call('POST', '/upload/storage/v1/b/objs/o?uploadType=media', 'x'),
      400,
      /Required parameter: name/,
    ],
    [
      'an unknown upload type',
      () => call('POST', '/upload/storage/v1/b/objs/o?uploadType=chunky&name=a', 'x'),
      400,
      /uploadType "chunky"/,
    ],
    [
      'multipart without boundary',
      () =>
        call('POST', '/upload/storage/v1/b/objs/o?uploadType=multipart', 'x', {
          'content-type': 'multipart/related',
        }),
      400,
      /no boundary/,
    ],
    [
      'multipart with one part',
      () =>
        call('POST', '/upload/storage/v1/b/objs/o?uploadType=multipart', '--b\n\n{}\n--b--', {
          'content-type': 'multipart/related; boundary=b',
        }),
      400,
      /expected 2 parts/,
    ],
    [
      'an object over the limit',
      () =>
        call(
          'POST',
          '/upload/storage/v1/b/objs/o?uploadType=media&name=huge',
          Buffer.alloc(1024 * 1024 + 1),
        ),
      413,
      /up to 1048576 bytes/,
    ],
    [
      'a name with a newline',
      () => call('POST', '/upload/storage/v1/b/objs/o?uploadType=media&name=a%0Ab', 'x'),
      400,
      /Invalid object name/,
    ],
    [
      'a missing object',
      () => call('GET', '/storage/v1/b/objs/o/nope?alt=media'),
      404,
      /No such object: objs\/nope/,
    ],
  ];
  for (const [name, request, status, pattern] of bad) {
    test(`refuses ${name}`, async () => {
      const r = await request();
      assert.equal(r.status, status);
      assert.match(r.json.error.message, pattern);
    });
  }
});
