// `runway local build [DIR] [--config FILE] [--substitutions K=V,...] [--async]`: what `gcloud
// builds submit` does, against the running local cloud: DIR packed as gcloud packs it
// (.gcloudignore), uploaded to the bucket PROJECT_cloudbuild of the local Cloud Storage, the build
// created with Google's Cloud Build client, and its log streamed until it ends. Exit 0 when it
// ends SUCCESS, 1 for any other end, 2 for bad usage.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CloudBuildClient } from '@google-cloud/cloudbuild';
import { parse as parseYaml } from 'yaml';
import { camelKeys, parseBuildConfig } from '../../local/build/config.ts';
import { sourceTarball } from '../../local/build/source.ts';
import { readStackInfo, type StackInfo } from '../../local/stack.ts';
import { localAuthorization, localClientOptions } from '../../services/shared/clients.ts';
import { parseArgs, UsageError } from '../args.ts';
import { fail } from '../exit.ts';
import { stackHome } from '../home.ts';
import type { CliIo, Command } from '../io.ts';

const USAGE =
  'usage: runway local build [DIR] [--config cloudbuild.yaml] [--substitutions K=V,...] [--async]';

export interface BuildArgs {
  dir: string;
  /** The config file; default `cloudbuild.yaml` in DIR. */
  config: string;
  substitutions: Record<string, string>;
  async: boolean;
}

/**
 * gcloud's dictionary flag: `K=V,K2=V2`, or with another delimiter chosen as `^D^K=V D K2=V2`
 * (gcloud topic escaping), for values holding commas.
 */
export function parseSubstitutions(text: string): Record<string, string> {
  let delimiter = ',';
  let body = text;
  const custom = /^\^([^^]+)\^/.exec(text);
  if (custom) {
    delimiter = custom[1]!;
    body = text.slice(custom[0].length);
  }
  const out: Record<string, string> = {};
  if (body === '') return out;
  for (const item of body.split(delimiter)) {
    const eq = item.indexOf('=');
    if (eq <= 0)
      throw new UsageError(
        `--substitutions: ${JSON.stringify(item)} is not KEY=VALUE (use ^;^K=V;K2=V2 for values with commas)`,
      );
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function parseBuildArgs(argv: string[], cwd: string): BuildArgs & { home?: string } {
  const { positional, flags } = parseArgs(argv, {
    config: true,
    substitutions: true,
    async: false,
    home: true,
  });
  if (positional.length > 1) throw new UsageError(`unexpected argument ${positional[1]}\n${USAGE}`);
  const dir = resolve(cwd, positional[0] ?? '.');
  const config = flags.get('config');
  const subs = flags.get('substitutions');
  const home = flags.get('home');
  return {
    ...(typeof home === 'string' ? { home } : {}),
    dir,
    config: typeof config === 'string' ? resolve(cwd, config) : join(dir, 'cloudbuild.yaml'),
    substitutions: typeof subs === 'string' ? parseSubstitutions(subs) : {},
    async: flags.has('async'),
  };
}

/** A protobuf Duration as the client takes it: `"600s"` → `{ seconds, nanos }`. */
function duration(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(value);
  if (!m) return value;
  return { seconds: Number(m[1]), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

/** The config file as the API's Build, with the command's substitutions and the source. */
export function buildRequest(
  text: string,
  substitutions: Record<string, string>,
  source: { bucket: string; object: string },
): Record<string, unknown> {
  const build = camelKeys(parseYaml(text, { maxAliasCount: 100 }) ?? {}) as Record<string, unknown>;
  const steps = Array.isArray(build.steps) ? (build.steps as Record<string, unknown>[]) : [];
  return {
    ...build,
    ...(build.timeout === undefined ? {} : { timeout: duration(build.timeout) }),
    ...(build.queueTtl === undefined ? {} : { queueTtl: duration(build.queueTtl) }),
    steps: steps.map((s) =>
      s && typeof s === 'object' && s.timeout !== undefined
        ? { ...s, timeout: duration(s.timeout) }
        : s,
    ),
    substitutions: { ...((build.substitutions as object) ?? {}), ...substitutions },
    source: { storageSource: source },
  };
}

/** Cloud Build's default bucket for sources: `PROJECT_cloudbuild`, as gcloud names it. */
export const sourceBucket = (project: string) =>
  `${project.replace(/[:.]/g, '_').replace(/google/g, 'elgoog')}_cloudbuild`;

/** Uploads the tarball to the local Cloud Storage (creating the bucket); returns its place. */
async function upload(
  storage: string,
  project: string,
  data: Buffer,
): Promise<{ bucket: string; object: string }> {
  const bucket = sourceBucket(project);
  const created = await fetch(`${storage}/storage/v1/b?project=${encodeURIComponent(project)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...localAuthorization },
    body: JSON.stringify({ name: bucket }),
  });
  if (!created.ok && created.status !== 409)
    throw new Error(`creating gs://${bucket} failed: ${await created.text()}`);
  const object = `source/${(Date.now() / 1000).toFixed(6)}-${randomBytes(16).toString('hex')}.tgz`;
  const res = await fetch(
    `${storage}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(object)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/gzip', ...localAuthorization },
      body: data,
    },
  );
  if (!res.ok) throw new Error(`uploading gs://${bucket}/${object} failed: ${await res.text()}`);
  return { bucket, object };
}

/** Build.Status by number: the REST client decodes enums as numbers. */
const STATUS = [
  'STATUS_UNKNOWN',
  'QUEUED',
  'WORKING',
  'SUCCESS',
  'FAILURE',
  'INTERNAL_ERROR',
  'TIMEOUT',
  'CANCELLED',
  'EXPIRED',
  'PENDING',
];
export const statusName = (s: unknown) =>
  typeof s === 'number' ? (STATUS[s] ?? String(s)) : String(s);
const RUNNING = new Set(['STATUS_UNKNOWN', 'QUEUED', 'WORKING', 'PENDING']);

/** Prints the build's log as it grows until the build ends; returns its final status. */
async function follow(
  info: StackInfo,
  client: CloudBuildClient,
  id: string,
  io: CliIo,
): Promise<string> {
  let shown = 0;
  let stopped = false;
  void io.stopSignal.then(async () => {
    stopped = true;
    io.stderr.write(`Cancelling build ${id}\n`);
    await client.cancelBuild({ projectId: info.project, id }).catch(() => {});
  });
  const printNew = async () => {
    const res = await fetch(`${info.build}/local/v1/builds/${id}/log`, {
      headers: localAuthorization,
    });
    if (!res.ok) return;
    const text = await res.text();
    const end = text.lastIndexOf('\n') + 1;
    if (end > shown) io.stdout.write(text.slice(shown, end));
    shown = Math.max(shown, end);
  };
  for (;;) {
    const [build] = await client.getBuild({ projectId: info.project, id });
    const status = statusName(build.status);
    await printNew();
    if (!RUNNING.has(status)) return status;
    if (stopped) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const buildCommand: Command = async (argv, io) => {
  let args: BuildArgs & { home?: string };
  let info: StackInfo | undefined;
  try {
    args = parseBuildArgs(argv, io.cwd);
    const home = stackHome(
      io,
      parseArgs(argv, { config: true, substitutions: true, async: false, home: true }).flags,
    );
    info = await readStackInfo(home);
    if (!info)
      throw new UsageError(
        `no local cloud is running (no ${join(home, 'stack.json')}); start one with \`runway local up\``,
      );
    if (!info.build || !info.storage)
      throw new UsageError(
        'the running local cloud has no Cloud Build (it predates it): restart `runway local up`',
      );
  } catch (err) {
    return fail(io, 'local build', err);
  }
  const client = new CloudBuildClient(localClientOptions(info.build));
  try {
    const text = await readFile(args.config, 'utf8').catch((err: Error) => {
      throw new Error(`cannot read the build config ${args.config}: ${err.message}`);
    });
    // Checked here first, as gcloud checks the file before uploading anything.
    parseBuildConfig(text, args.config);
    const tarball = await sourceTarball(args.dir);
    const source = await upload(info.storage!, info.project, tarball.data);
    io.stderr.write(
      `Uploaded ${tarball.files} files and directories of ${args.dir} (ignore rules: ${tarball.from}) to gs://${source.bucket}/${source.object}\n`,
    );
    const [op] = await client.createBuild({
      projectId: info.project,
      build: buildRequest(text, args.substitutions, source),
    });
    const id = (op.metadata as { build?: { id?: string } } | undefined)?.build?.id;
    if (!id) throw new Error('the local Cloud Build answered without a build id');
    io.stderr.write(`Created build ${id}; its log: runway logs --build ${id}\n`);
    if (args.async) {
      io.stdout.write(`${id}\n`);
      return 0;
    }
    const status = await follow(info, client, id, io);
    io.stderr.write(
      status === 'SUCCESS' ? `DONE: build ${id} SUCCESS\n` : `ERROR: build ${id} ended ${status}\n`,
    );
    return status === 'SUCCESS' ? 0 : 1;
  } catch (err) {
    return fail(io, 'local build', googleMessage(err));
  } finally {
    await client.close();
  }
};

/** The message of Google's error body inside a REST client error, else the error itself. */
function googleMessage(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  try {
    const body = JSON.parse(err.message) as { error?: { message?: string } };
    if (body.error?.message) return new Error(body.error.message);
  } catch {}
  return err;
}
