// Container image references as Artifact Registry (and Container Registry) name them:
//   LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG][@sha256:HEX]
//   [REGION.]gcr.io/PROJECT/IMAGE[:TAG][@sha256:HEX]
// Parsing is strict: a reference that is not a full, lowercase, Google-hosted name is rejected
// with the reason, because a release must never guess which image it deploys.
import { RunwayError } from './errors.ts';

export interface ImageRef {
  /** `us-central1-docker.pkg.dev`, `gcr.io`, `eu.gcr.io`… */
  host: string;
  /** The Artifact Registry location (`us-central1`, `us`, `europe`), absent for gcr.io. */
  location?: string;
  project: string;
  /** The Artifact Registry repository; for gcr.io the host names the repository. */
  repository: string;
  /** The image path inside the repository, which may contain `/`. */
  image: string;
  tag?: string;
  /** `sha256:` followed by 64 lowercase hex digits. */
  digest?: string;
}

export const MAX_REFERENCE_LENGTH = 1024;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// Docker path components: lowercase alphanumerics separated by one `.`, `_`, `__` or dashes.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const AR_HOST = /^([a-z0-9]+(?:-[a-z0-9]+)*)-docker\.pkg\.dev$/;
const GCR_HOST = /^(?:(us|eu|asia)\.)?gcr\.io$/;

export class ImageRefError extends RunwayError {
  override name = 'ImageRefError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

function fail(ref: string, reason: string): never {
  throw new ImageRefError(`invalid image reference ${JSON.stringify(truncate(ref))}: ${reason}`);
}

function truncate(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Parses a full image reference; throws ImageRefError saying what is wrong. */
export function parseImageRef(ref: string): ImageRef {
  if (typeof ref !== 'string' || ref.length === 0) fail(String(ref), 'it is empty');
  if (ref.length > MAX_REFERENCE_LENGTH)
    fail(ref, `it is longer than ${MAX_REFERENCE_LENGTH} characters`);
  if (/[^\x21-\x7e]/.test(ref))
    fail(ref, 'it contains whitespace, control or non-ASCII characters');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digest.startsWith('sha256:')) fail(ref, 'the digest must use the sha256 algorithm');
    if (!DIGEST.test(digest))
      fail(ref, 'the digest must be "sha256:" followed by 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(ref, `the tag ${JSON.stringify(tag)} is not a valid tag`);
  }
  const parts = rest.split('/');
  const host = parts[0] ?? '';
  if (parts.length < 2 || !host.includes('.')) {
    fail(ref, 'it must start with a registry host such as REGION-docker.pkg.dev');
  }
  for (const p of parts.slice(1)) {
    if (p === '') fail(ref, 'it has an empty path component');
    if (p === '.' || p === '..') fail(ref, 'it has a relative path component');
  }
  const ar = AR_HOST.exec(host);
  const gcr = GCR_HOST.exec(host);
  let out: ImageRef;
  if (ar) {
    if (parts.length < 4)
      fail(ref, 'an Artifact Registry reference is HOST/PROJECT/REPOSITORY/IMAGE');
    out = {
      host,
      location: ar[1]!,
      project: parts[1]!,
      repository: parts[2]!,
      image: parts.slice(3).join('/'),
    };
  } else if (gcr) {
    if (parts.length < 3) fail(ref, 'a Container Registry reference is HOST/PROJECT/IMAGE');
    out = { host, project: parts[1]!, repository: host, image: parts.slice(2).join('/') };
  } else {
    fail(
      ref,
      `the registry host ${JSON.stringify(host)} is not Artifact Registry (LOCATION-docker.pkg.dev) or gcr.io`,
    );
  }
  if (!PROJECT.test(out.project)) {
    fail(
      ref,
      `the project id ${JSON.stringify(out.project)} is not a valid Google Cloud project id`,
    );
  }
  if (ar && !COMPONENT.test(out.repository)) {
    fail(
      ref,
      `the repository ${JSON.stringify(out.repository)} must be lowercase letters, digits and dashes`,
    );
  }
  for (const c of out.image.split('/')) {
    if (!COMPONENT.test(c)) {
      fail(
        ref,
        `the image path component ${JSON.stringify(c)} must be lowercase letters, digits and . _ - separators`,
      );
    }
  }
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** Parses a reference that must pin a digest (what a release deploys). */
export function parseDigestRef(ref: string): ImageRef & { digest: string } {
  const parsed = parseImageRef(ref);
  if (!parsed.digest)
    fail(ref, 'it must name the image by digest (IMAGE@sha256:…), not only by tag');
  return parsed as ImageRef & { digest: string };
}

/** `HOST/PROJECT/REPOSITORY/IMAGE`, without tag or digest: what a pipeline watches. */
export function imageName(ref: ImageRef): string {
  return ref.location
    ? `${ref.host}/${ref.project}/${ref.repository}/${ref.image}`
    : `${ref.host}/${ref.project}/${ref.image}`;
}

export function formatImageRef(ref: ImageRef): string {
  return `${imageName(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The first 12 hex digits of a digest, as people and labels show it. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
