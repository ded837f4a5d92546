// Containers of services and jobs: the checks Cloud Run makes on them, and how one becomes a
// process: the image's snapshot as the working directory, its Dockerfile command with the
// container's command/args overrides, and an environment of the image's ENV, the container's env
// and the variables Cloud Run sets itself.
import { tmpdir } from 'node:os';
import type { FieldViolation } from '../../services/shared/errors.ts';
import { containerArgv, type ImageConfig } from '../../services/shared/dockerfile.ts';
import type { Json, JsonObject } from './proto-json.ts';

export interface ResolvedImage {
  digest: string;
  dir: string;
  config: ImageConfig;
}

/** Where the local Cloud Run finds images: the local Artifact Registry. */
export interface ImageSource {
  /** Resolves a reference by digest or tag; throws NOT_FOUND (`Image '…' not found.`). */
  resolve(ref: string): Promise<ResolvedImage>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const asObject = (v: Json | undefined): JsonObject =>
  v && typeof v === 'object' && !Array.isArray(v) ? v : {};
const asList = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : []);

export function checkContainers(
  containers: Json | undefined,
  field: string,
  reserved: string[],
): FieldViolation[] {
  const list = asList(containers);
  if (list.length === 0) {
    return [{ field, description: 'a template needs a container with an image' }];
  }
  if (list.length > 1) {
    return [
      {
        field,
        description: `the local Cloud Run runs one container per instance; this template has ${list.length} (sidecars are not emulated)`,
      },
    ];
  }
  const out: FieldViolation[] = [];
  list.forEach((raw, i) => {
    const c = asObject(raw);
    const at = `${field}[${i}]`;
    if (typeof c.image !== 'string' || c.image.trim() === '') {
      out.push({ field: `${at}.image`, description: 'image is required' });
    }
    const ports = asList(c.ports);
    if (ports.length > 1) {
      out.push({ field: `${at}.ports`, description: 'a container exposes at most one port' });
    }
    const seen = new Set<string>();
    asList(c.env).forEach((rawEnv, j) => {
      const e = asObject(rawEnv);
      const name = e.name;
      const envAt = `${at}.env[${j}]`;
      if (typeof name !== 'string' || !ENV_NAME.test(name)) {
        out.push({
          field: `${envAt}.name`,
          description: `invalid environment variable name ${JSON.stringify(name ?? '')}`,
        });
        return;
      }
      if (reserved.includes(name)) {
        out.push({
          field: `${envAt}.name`,
          description: `The following reserved env names were provided: ${name}. These values are automatically set by the system.`,
        });
      }
      if (seen.has(name)) {
        out.push({
          field: `${envAt}.name`,
          description: `environment variable ${name} is set twice`,
        });
      }
      seen.add(name);
      if (e.valueSource !== undefined) {
        out.push({
          field: `${envAt}.value_source`,
          description:
            'secret references are not available in the local Cloud Run; pass the value directly',
        });
      }
    });
  });
  return out;
}

export function containerPort(container: JsonObject): number {
  const port = asObject(asList(container.ports)[0]).containerPort;
  return typeof port === 'number' && port > 0 ? port : 8080;
}

/** The environment Cloud Run's containers see, minus what the platform sets per instance. */
export function containerEnv(
  image: ResolvedImage,
  container: JsonObject,
  overrides: Json[] = [],
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: tmpdir(),
    ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
    ...(process.env.LANG ? { LANG: process.env.LANG } : {}),
    ...image.config.env,
  };
  for (const e of [...asList(container.env), ...overrides]) {
    const { name, value } = asObject(e);
    if (typeof name === 'string') env[name] = typeof value === 'string' ? value : '';
  }
  return env;
}

export function argvFor(image: ResolvedImage, container: JsonObject, args?: Json[]): string[] {
  const strings = (v: Json | undefined) =>
    asList(v).filter((s): s is string => typeof s === 'string');
  return containerArgv(image.config, {
    command: strings(container.command),
    args: args ? strings(args) : strings(container.args),
  });
}

export { asList, asObject };
