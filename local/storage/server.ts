// The part of the Cloud Storage JSON API that `gcloud builds submit` and the local Cloud Build
// need: buckets get, insert and list; objects insert (media, multipart and resumable uploads, the
// three gcloud's apitools and Google's clients use), get (metadata, or the bytes with `alt=media`
// and Range) and list. Objects live in memory: source tarballs and build logs, not data sets.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, notFound, RunwayError } from '../../services/shared/errors.ts';
import { closeServer, readJsonBody, readRawBody, serveApi } from '../api-server.ts';
import { type Gate, openGate } from '../iam/caller.ts';
import type { RequestResources } from '../iam/policy.ts';

export const STORAGE_LIMITS = { objectBytes: 256 * 1024 * 1024, totalBytes: 1024 * 1024 * 1024 };

export interface StoredObject {
  bucket: string;
  name: string;
  data: Buffer;
  contentType: string;
  generation: number;
  created: Date;
  updated: Date;
}

export interface Bucket {
  name: string;
  project: string;
  location: string;
  created: Date;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9]$/;

/** Bucket naming rules (https://cloud.google.com/storage/docs/buckets#naming), as Google refuses. */
export function checkBucketName(name: string): void {
  const fail = () => {
    throw invalidArgument(`Invalid bucket name: '${name.slice(0, 230)}'`, [
      {
        field: 'name',
        description:
          'bucket names are 3-63 characters of a-z 0-9 - _ . (222 with dots), start and end with a letter or digit, do not look like an IP address or contain "google"',
      },
    ]);
  };
  if (!BUCKET_NAME.test(name)) fail();
  const longest = Math.max(...name.split('.').map((p) => p.length));
  if (longest > 63 || (!name.includes('.') && name.length > 63)) fail();
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name) || name.startsWith('goog') || /g00gle|google/.test(name))
    fail();
}

export class ObjectStore {
  readonly #buckets = new Map<string, Bucket>();
  readonly #objects = new Map<string, Map<string, StoredObject>>();
  #bytes = 0;
  #generation = Date.now() * 1000;

  constructor(readonly limits = STORAGE_LIMITS) {}

  bucket(name: string): Bucket {
    const b = this.#buckets.get(name);
    if (!b) throw notFound('The specified bucket does not exist.');
    return b;
  }

  hasBucket(name: string): boolean {
    return this.#buckets.has(name);
  }

  createBucket(name: string, project: string, location = 'US'): Bucket {
    checkBucketName(name);
    if (this.#buckets.has(name)) {
      throw new RunwayError(
        'ALREADY_EXISTS',
        'Your previous request to create the named bucket succeeded and you already own it.',
      );
    }
    const b = { name, project, location: location.toUpperCase(), created: new Date() };
    this.#buckets.set(name, b);
    this.#objects.set(name, new Map());
    return b;
  }

  buckets(project: string, prefix = ''): Bucket[] {
    return [...this.#buckets.values()]
      .filter((b) => b.project === project && b.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  put(
    bucket: string,
    name: string,
    data: Buffer,
    contentType = 'application/octet-stream',
    ifGenerationMatch?: string,
  ): StoredObject {
    this.bucket(bucket);
    checkObjectName(name);
    const objects = this.#objects.get(bucket)!;
    const old = objects.get(name);
    if (ifGenerationMatch !== undefined && String(old?.generation ?? 0) !== ifGenerationMatch) {
      throw new RunwayError(
        'FAILED_PRECONDITION',
        'At least one of the pre-conditions you specified did not hold.',
        { httpStatus: 412 },
      );
    }
    if (data.length > this.limits.objectBytes) {
      throw new RunwayError(
        'INVALID_ARGUMENT',
        `the local Cloud Storage keeps objects up to ${this.limits.objectBytes} bytes`,
        { httpStatus: 413 },
      );
    }
    if (this.#bytes - (old?.data.length ?? 0) + data.length > this.limits.totalBytes) {
      throw new RunwayError(
        'RESOURCE_EXHAUSTED',
        `the local Cloud Storage holds at most ${this.limits.totalBytes} bytes in memory`,
      );
    }
    this.#bytes += data.length - (old?.data.length ?? 0);
    const now = new Date();
    const obj: StoredObject = {
      bucket,
      name,
      data,
      contentType,
      generation: ++this.#generation,
      created: old?.created ?? now,
      updated: now,
    };
    objects.set(name, obj);
    return obj;
  }

  /** Appends to an object (build logs grow while the build runs). */
  append(
    bucket: string,
    name: string,
    data: Buffer,
    contentType = 'text/plain; charset=utf-8',
  ): StoredObject {
    const old = this.#objects.get(bucket)?.get(name);
    return this.put(bucket, name, old ? Buffer.concat([old.data, data]) : data, contentType);
  }

  get(bucket: string, name: string): StoredObject {
    this.bucket(bucket);
    const obj = this.#objects.get(bucket)!.get(name);
    if (!obj) throw notFound(`No such object: ${bucket}/${name}`);
    return obj;
  }

  list(bucket: string, prefix = ''): StoredObject[] {
    this.bucket(bucket);
    return [...this.#objects.get(bucket)!.values()]
      .filter((o) => o.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }
}

function checkObjectName(name: string): void {
  if (!name) throw invalidArgument('Required parameter: name');
  if (Buffer.byteLength(name) > 1024)
    throw invalidArgument('The object name is too long (at most 1024 bytes).');
  if (
    name === '.' ||
    name === '..' ||
    name.startsWith('.well-known/acme-challenge/') ||
    /[\r\n]/.test(name)
  ) {
    throw invalidArgument(`Invalid object name: '${name.slice(0, 200)}'`);
  }
}

export interface LocalStorage {
  url: string;
  host: string;
  store: ObjectStore;
  close(): Promise<void>;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function bucketResource(b: Bucket, base: string) {
  return {
    kind: 'storage#bucket',
    id: b.name,
    selfLink: `${base}/storage/v1/b/${b.name}`,
    projectNumber: '0',
    name: b.name,
    timeCreated: b.created.toISOString(),
    updated: b.created.toISOString(),
    metageneration: '1',
    location: b.location,
    locationType: 'multi-region',
    storageClass: 'STANDARD',
    etag: 'CAE=',
  };
}

function objectResource(o: StoredObject, base: string) {
  const path = `b/${encodeURIComponent(o.bucket)}/o/${encodeURIComponent(o.name)}`;
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${base}/storage/v1/${path}`,
    mediaLink: `${base}/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: '1',
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.data.length),
    md5Hash: createHash('md5').update(o.data).digest('base64'),
    etag: Buffer.from(String(o.generation)).toString('base64'),
    timeCreated: o.created.toISOString(),
    updated: o.updated.toISOString(),
    timeStorageClassUpdated: o.created.toISOString(),
  };
}

/** The two parts of a multipart/related upload: JSON metadata, then the media. */
export function parseMultipart(
  body: Buffer,
  contentType: string,
): { metadata: Record<string, unknown>; media: Buffer; mediaType: string } {
  const m = /boundary=(?:"([^"]+)"|'([^']+)'|([^;\s]+))/i.exec(contentType);
  if (!m) throw invalidArgument('multipart upload: the Content-Type has no boundary');
  const boundary = Buffer.from(`--${m[1] ?? m[2] ?? m[3]}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(boundary);
  while (at >= 0) {
    const start = at + boundary.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(boundary, start);
    if (next < 0) break;
    parts.push(body.subarray(start, next));
    at = next;
  }
  if (parts.length !== 2)
    throw invalidArgument(
      `multipart upload: expected 2 parts (metadata and media), found ${parts.length}`,
    );
  const split = (part: Buffer) => {
    const sep = part.indexOf('\r\n\r\n') >= 0 ? '\r\n\r\n' : '\n\n';
    const i = part.indexOf(sep);
    if (i < 0) throw invalidArgument('multipart upload: a part has no header block');
    const headers = part.subarray(0, i).toString('latin1');
    let content = part.subarray(i + sep.length);
    // The line break before the next boundary belongs to the delimiter; its style is the
    // headers' (apitools writes LF), so binary media ending in CR keeps it.
    const eol = sep === '\r\n\r\n' ? '\r\n' : '\n';
    if (content.subarray(-eol.length).toString() === eol)
      content = content.subarray(0, -eol.length);
    const type =
      /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
    return { type, content };
  };
  const meta = split(parts[0]!);
  const media = split(parts[1]!);
  let metadata: unknown;
  try {
    metadata = JSON.parse(meta.content.toString('utf8') || '{}');
  } catch {
    throw invalidArgument('multipart upload: the metadata part is not JSON');
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw invalidArgument('multipart upload: the metadata must be an object');
  return {
    metadata: metadata as Record<string, unknown>,
    media: media.content,
    mediaType: media.type,
  };
}

interface Resumable {
  bucket: string;
  name: string;
  contentType: string;
  chunks: Buffer[];
  received: number;
  ifGenerationMatch?: string;
}

export async function startLocalStorage(
  options: {
    port?: number;
    store?: ObjectStore;
    /** Each request's IAM check (local/iam/caller.ts); absent: none. */
    gate?: Gate;
    /** Hears each bucket created, to give it Google's default policy. */
    onBucket?: (bucket: string, project: string) => void;
  } = {},
): Promise<LocalStorage> {
  const gate = options.gate ?? openGate;
  const can = (req: IncomingMessage, method: string, resources: RequestResources) =>
    gate.authorize(req, 'storage.googleapis.com', method, resources);
  const bucketName = (b: string) => `projects/_/buckets/${b}`;
  const store = options.store ?? new ObjectStore();
  const sessions = new Map<string, Resumable>();
  let base = '';
  const maxBody = store.limits.objectBytes + 1024 * 1024;

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams;
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const seg = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw invalidArgument(`the path segment ${s.slice(0, 100)} is not valid percent-encoding`);
      }
    };

    let m = /^\/storage\/v1\/b\/?$/.exec(path);
    if (m && method === 'POST') {
      gate.caller(req);
      const body = await readJsonBody(req, 64 * 1024);
      const project = q.get('project');
      if (!project) throw invalidArgument('Required parameter: project');
      if (typeof body.name !== 'string') throw invalidArgument('Required: bucket name');
      can(req, 'storage.buckets.insert', {
        resource: bucketName(body.name),
        project: `projects/${project}`,
      });
      const b = store.createBucket(
        body.name,
        project,
        typeof body.location === 'string' ? body.location : undefined,
      );
      options.onBucket?.(body.name, project);
      return sendJson(res, 200, bucketResource(b, base));
    }
    if (m && method === 'GET') {
      const project = q.get('project');
      if (!project) throw invalidArgument('Required parameter: project');
      can(req, 'storage.buckets.list', {
        resource: `projects/${project}/buckets`,
        project: `projects/${project}`,
      });
      return sendJson(res, 200, {
        kind: 'storage#buckets',
        items: store.buckets(project, q.get('prefix') ?? '').map((b) => bucketResource(b, base)),
      });
    }
    m = /^\/storage\/v1\/b\/([^/]+)\/?$/.exec(path);
    if (m && method === 'GET') {
      can(req, 'storage.buckets.get', { resource: bucketName(seg(m[1]!)) });
      return sendJson(res, 200, bucketResource(store.bucket(seg(m[1]!)), base));
    }

    m = /^\/storage\/v1\/b\/([^/]+)\/o\/?$/.exec(path);
    if (m && method === 'GET') {
      can(req, 'storage.objects.list', {
        resource: `${bucketName(seg(m[1]!))}/objects`,
        parent: bucketName(seg(m[1]!)),
      });
      const items = store
        .list(seg(m[1]!), q.get('prefix') ?? '')
        .map((o) => objectResource(o, base));
      return sendJson(res, 200, { kind: 'storage#objects', items });
    }
    m = /^\/(?:storage|download\/storage)\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path);
    if (m && method === 'GET') {
      can(req, 'storage.objects.get', {
        resource: `${bucketName(seg(m[1]!))}/objects/${seg(m[2]!)}`,
      });
      const obj = store.get(seg(m[1]!), seg(m[2]!));
      if (q.get('alt') === 'media') return sendMedia(req, res, obj);
      return sendJson(res, 200, objectResource(obj, base));
    }

    m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/.exec(path);
    if (m && (method === 'POST' || method === 'PUT')) {
      const bucket = seg(m[1]!);
      const type = q.get('uploadType');
      // Checked on the bucket: the object's name may be in the body (multipart, resumable).
      if (!q.get('upload_id'))
        can(req, 'storage.objects.insert', { resource: `${bucketName(bucket)}/objects` });
      const ifGen = q.get('ifGenerationMatch') ?? undefined;
      if (type === 'media' && method === 'POST') {
        const name = q.get('name');
        if (!name) throw invalidArgument('Required parameter: name');
        store.bucket(bucket);
        const data = await readRawBody(req, maxBody);
        const obj = store.put(
          bucket,
          name,
          data,
          req.headers['content-type'] ?? 'application/octet-stream',
          ifGen,
        );
        return sendJson(res, 200, objectResource(obj, base));
      }
      if (type === 'multipart' && method === 'POST') {
        store.bucket(bucket);
        const body = await readRawBody(req, maxBody);
        const { metadata, media, mediaType } = parseMultipart(
          body,
          req.headers['content-type'] ?? '',
        );
        const name = typeof metadata.name === 'string' ? metadata.name : q.get('name');
        if (!name) throw invalidArgument('Required parameter: name');
        const ct = typeof metadata.contentType === 'string' ? metadata.contentType : mediaType;
        return sendJson(res, 200, objectResource(store.put(bucket, name, media, ct, ifGen), base));
      }
      if (type === 'resumable' && method === 'POST' && !q.get('upload_id')) {
        store.bucket(bucket);
        const metadata = await readJsonBody(req, 64 * 1024);
        const name = typeof metadata.name === 'string' ? metadata.name : q.get('name');
        if (!name) throw invalidArgument('Required parameter: name');
        checkObjectName(name);
        const id = randomUUID();
        const contentType =
          (typeof metadata.contentType === 'string' && metadata.contentType) ||
          (req.headers['x-upload-content-type'] as string | undefined) ||
          'application/octet-stream';
        sessions.set(id, {
          bucket,
          name,
          contentType,
          chunks: [],
          received: 0,
          ...(ifGen ? { ifGenerationMatch: ifGen } : {}),
        });
        const location = `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`;
        res.writeHead(200, { location, 'content-length': 0 });
        res.end();
        return;
      }
      if (type === 'resumable' && q.get('upload_id'))
        return resumeUpload(req, res, q.get('upload_id')!);
      req.resume();
      throw invalidArgument(
        `uploadType ${JSON.stringify(type)} with ${method} is not supported: use media, multipart or resumable`,
      );
    }
    req.resume();
    throw notFound(
      `The requested URL ${path.slice(0, 300)} was not found on this server (the local Cloud Storage).`,
    );
  };

  async function resumeUpload(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
  ): Promise<void> {
    const s = sessions.get(id);
    if (!s) {
      req.resume();
      throw notFound('No such upload session');
    }
    const chunk = await readRawBody(req, maxBody);
    const range = req.headers['content-range'];
    let total: number | undefined;
    if (range) {
      const r = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(range);
      if (!r) throw invalidArgument(`bad Content-Range: ${range.slice(0, 100)}`);
      if (r[1] !== undefined && Number(r[1]) !== s.received) {
        throw invalidArgument(
          `Content-Range starts at ${r[1]}, the upload has ${s.received} bytes`,
        );
      }
      total = r[3] === '*' ? undefined : Number(r[3]);
    } else total = s.received + chunk.length;
    s.chunks.push(chunk);
    s.received += chunk.length;
    if (s.received > store.limits.objectBytes) {
      sessions.delete(id);
      throw new RunwayError(
        'INVALID_ARGUMENT',
        `the local Cloud Storage keeps objects up to ${store.limits.objectBytes} bytes`,
        { httpStatus: 413 },
      );
    }
    if (total !== undefined && s.received >= total) {
      sessions.delete(id);
      const obj = store.put(
        s.bucket,
        s.name,
        Buffer.concat(s.chunks),
        s.contentType,
        s.ifGenerationMatch,
      );
      return sendJson(res, 200, objectResource(obj, base));
    }
    res.writeHead(308, { range: `bytes=0-${s.received - 1}`, 'content-length': 0 });
    res.end();
  }

  const { server, host, url } = await serveApi(
    handler,
    options.port === undefined ? {} : { port: options.port },
  );
  base = url;
  return { url, host, store, close: () => closeServer(server) };
}

function sendMedia(req: IncomingMessage, res: ServerResponse, obj: StoredObject): void {
  const headers = {
    'content-type': obj.contentType,
    'x-goog-generation': String(obj.generation),
    'accept-ranges': 'bytes',
  };
  const range = req.headers.range;
  const size = obj.data.length;
  if (range) {
    const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (r && (r[1] || r[2])) {
      let start = r[1] ? Number(r[1]) : Math.max(0, size - Number(r[2]));
      let end = r[1] && r[2] ? Math.min(Number(r[2]), size - 1) : size - 1;
      if (!r[1]) end = size - 1;
      if (start >= size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
        res.end();
        return;
      }
      start = Math.max(0, start);
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': end - start + 1,
      });
      res.end(obj.data.subarray(start, end + 1));
      return;
    }
  }
  res.writeHead(200, { ...headers, 'content-length': size });
  res.end(obj.data);
}
