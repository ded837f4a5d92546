// The local Artifact Registry on loopback. `POST /local/v1/images:push` snapshots a directory into
// the store and announces the push the way Artifact Registry does (an INSERT notification for the
// topic `gcr`); the Artifact Registry v1 REST reads that runway needs (tags and docker images of a
// repository, and the repository itself) answer in Google's JSON so `@google-cloud/artifact-registry`
// and `gcloud artifacts docker tags list` work against it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, notFound } from '../../services/shared/errors.ts';
import { closeServer, readJsonBody, serveApi } from '../api-server.ts';
import { type Gate, openGate } from '../iam/caller.ts';
import type { ImageSource } from '../run/containers.ts';
import { ImageStore, type PushResult } from './store.ts';

/** The notification Artifact Registry publishes on the topic `gcr`. */
export interface RegistryEvent {
  action: 'INSERT';
  digest: string;
  tag?: string;
}

export interface LocalRegistryOptions {
  root: string;
  /** Where push notifications go (the local Pub/Sub topic `gcr`); they are recorded either way. */
  publish?: (event: RegistryEvent) => Promise<void>;
  port?: number;
  /** Each request's IAM check (local/iam/caller.ts); absent: none. */
  gate?: Gate;
}

const AR = 'artifactregistry.googleapis.com';
const AR_METHOD = 'google.devtools.artifactregistry.v1.ArtifactRegistry';

/** The repository `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/…` lives in, as a resource name. */
export function repositoryOf(image: string): string | undefined {
  const m = /^([a-z0-9-]+)-docker\.pkg\.dev\/([^/]+)\/([^/@:]+)\//.exec(image);
  return m ? `projects/${m[2]}/locations/${m[1]}/repositories/${m[3]}` : undefined;
}

export interface LocalRegistry {
  url: string;
  host: string;
  store: ImageStore;
  /** Every notification, in order, whether or not it was published. */
  events: RegistryEvent[];
  images: ImageSource;
  push(
    dir: string,
    image: string,
    dockerfile?: string,
  ): Promise<PushResult & { published: boolean }>;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
};

function segments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        // Packages arrive as `app%2Fsub`, sometimes encoded once more by the client.
        let out = decodeURIComponent(s);
        if (/%2F/i.test(out)) out = decodeURIComponent(out);
        return out;
      } catch {
        throw invalidArgument(`the path segment ${s.slice(0, 100)} is not valid percent-encoding`);
      }
    });
}

export async function startLocalRegistry(options: LocalRegistryOptions): Promise<LocalRegistry> {
  const store = new ImageStore(options.root);
  const events: RegistryEvent[] = [];

  const push = async (dir: string, image: string, dockerfile?: string) => {
    const result = await store.push(dir, image, dockerfile ? { dockerfile } : {});
    const event: RegistryEvent = {
      action: 'INSERT',
      digest: result.digestRef,
      ...(result.tagRef ? { tag: result.tagRef } : {}),
    };
    events.push(event);
    let published = false;
    if (options.publish) {
      await options.publish(event);
      published = true;
    }
    return { ...result, published };
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const gate = options.gate ?? openGate;
    if (url.pathname === '/local/v1/images:push' && req.method === 'POST') {
      gate.caller(req);
      const body = await readJsonBody(req, 64 * 1024);
      const { dir, image, dockerfile } = body;
      if (typeof dir !== 'string' || !dir)
        throw invalidArgument('dir: the directory to push is required');
      if (typeof image !== 'string' || !image)
        throw invalidArgument('image: the image reference is required');
      // `docker push`: uploading to the image's repository.
      const repository = repositoryOf(image);
      if (repository) gate.authorize(req, AR, 'Docker-PutManifest', { resource: repository });
      if (dockerfile !== undefined && typeof dockerfile !== 'string')
        throw invalidArgument('dockerfile must be a path');
      json(res, 200, await push(dir, image, dockerfile as string | undefined));
      return;
    }
    if (url.pathname === '/local/v1/events' && req.method === 'GET') {
      json(res, 200, { events });
      return;
    }
    req.resume();
    const s = segments(url.pathname);
    // /v1/projects/P/locations/L/repositories/R/...
    if (
      req.method === 'GET' &&
      s[0] === 'v1' &&
      s[1] === 'projects' &&
      s[3] === 'locations' &&
      s[5] === 'repositories' &&
      s.length >= 7
    ) {
      const [project, location, repository] = [s[2]!, s[4]!, s[6]!];
      const base = `projects/${project}/locations/${location}/repositories/${repository}`;
      const prefix = `${location}-docker.pkg.dev/${project}/${repository}/`;
      if (s.length === 7) {
        // A repository exists here once an image was pushed into it (pushes create it locally).
        if ((await store.imageNames(prefix)).length === 0)
          throw notFound(`Requested entity was not found: repository ${base}`);
        json(res, 200, { name: base, format: 'DOCKER', mode: 'STANDARD_REPOSITORY' });
        return;
      }
      if (s[7] === 'packages' && s[9] === 'tags' && s.length <= 11) {
        const pkg = s[8]!;
        const pkgResource = `${base}/packages/${pkg}`;
        if (s.length === 11)
          gate.authorize(req, AR, `${AR_METHOD}.GetTag`, {
            resource: `${pkgResource}/tags/${s[10]}`,
          });
        else
          gate.authorize(req, AR, `${AR_METHOD}.ListTags`, {
            resource: `${pkgResource}/tags`,
            parent: pkgResource,
          });
        const name = `${prefix}${pkg}`;
        const pkgName = `${base}/packages/${encodeURIComponent(pkg)}`;
        const render = (t: { tag: string; digest: string }) => ({
          name: `${pkgName}/tags/${t.tag}`,
          version: `${pkgName}/versions/${t.digest}`,
        });
        if (s.length === 11) {
          const digest = await store.tagDigest(name, s[10]!);
          if (!digest) throw notFound(`Requested entity was not found: tag ${s[10]} of ${name}`);
          json(res, 200, render({ tag: s[10]!, digest }));
        } else {
          json(res, 200, { tags: (await store.tags(name)).map(render) });
        }
        return;
      }
      if (s[7] === 'dockerImages' && s.length === 8) {
        gate.authorize(req, AR, `${AR_METHOD}.ListDockerImages`, {
          resource: `${base}/dockerImages`,
          parent: base,
        });
        const byDigest = new Map<string, { name: string; tags: string[]; uri: string }>();
        for (const image of await store.imageNames(prefix)) {
          for (const { tag, digest } of await store.tags(image)) {
            const uri = `${image}@${digest}`;
            const entry = byDigest.get(uri) ?? {
              name: `${base}/dockerImages/${encodeURIComponent(image.slice(prefix.length))}@${digest}`,
              uri,
              tags: [],
            };
            entry.tags.push(tag);
            byDigest.set(uri, entry);
          }
        }
        json(res, 200, {
          dockerImages: [...byDigest.values()].map((d) => ({
            ...d,
            mediaType: 'application/vnd.runway.local.image.v1+json',
          })),
        });
        return;
      }
    }
    throw notFound(
      `The requested URL ${url.pathname} was not found on this server (the local Artifact Registry).`,
    );
  };

  const { server, host, url } = await serveApi(
    handler,
    options.port === undefined ? {} : { port: options.port },
  );
  return {
    url,
    host,
    store,
    events,
    push,
    images: {
      async resolve(ref) {
        const image = await store.resolve(ref);
        return { digest: image.digest, dir: image.dir, config: image.manifest.config };
      },
    },
    close: () => closeServer(server),
  };
}
