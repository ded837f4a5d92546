// A Cloud Build `Build`: read from cloudbuild.yaml / .json (as gcloud reads it: snake_case keys
// become camelCase) or from the API's JSON, then checked with the rules and limits of Google's
// own local builder (cloud-build-local `validate`). What the local cloud cannot do (secrets,
// volumes, artifacts) is refused with a message that says so, never silently dropped.
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { invalidArgument, RunwayError } from '../../services/shared/errors.ts';
import { formatPath } from '../../services/shared/validation.ts';

export const BUILD_LIMITS = {
  steps: 100,
  stepNameLength: 1000,
  argsPerStep: 100,
  argLength: 4000,
  envPerStep: 100,
  dirLength: 1000,
  images: 100,
  imageLength: 1000,
  tags: 64,
  /** For a build and for a step. */
  maxTimeoutMs: 24 * 3600_000,
  configBytes: 1024 * 1024,
} as const;

export const DEFAULT_BUILD_TIMEOUT_MS = 3600_000;

/** A step's `waitFor` entry meaning "start at once". */
export const START = '-';

export interface BuildStep {
  name: string;
  args: string[];
  env: string[];
  dir: string;
  id: string;
  waitFor: string[];
  entrypoint: string;
  script: string;
  timeoutMs?: number;
  allowFailure: boolean;
  allowExitCodes: number[];
  automapSubstitutions?: boolean;
}

export type SubstitutionOption = 'MUST_MATCH' | 'ALLOW_LOOSE';
export type LoggingMode =
  | 'LOGGING_UNSPECIFIED'
  | 'LEGACY'
  | 'GCS_ONLY'
  | 'STACKDRIVER_ONLY'
  | 'CLOUD_LOGGING_ONLY'
  | 'NONE';

export interface BuildOptions {
  substitutionOption: SubstitutionOption;
  dynamicSubstitutions: boolean;
  automapSubstitutions: boolean;
  logging: LoggingMode;
  /** Global `KEY=VALUE` for every step; a step's own value wins. */
  env: string[];
  defaultLogsBucketBehavior: string;
  /** Everything else given (machineType, diskSizeGb, pool...): echoed back, no effect locally. */
  ignored: Record<string, unknown>;
}

export interface StorageSource {
  bucket: string;
  object: string;
  generation?: string;
}

export interface BuildConfig {
  steps: BuildStep[];
  images: string[];
  tags: string[];
  timeoutMs: number;
  substitutions: Record<string, string>;
  options: BuildOptions;
  serviceAccount: string;
  logsBucket: string;
  source?: { storageSource: StorageSource };
  queueTtl?: string;
}

/** Where the build came from: a config file has no `source` (gcloud refuses one). */
export type BuildOrigin = 'file' | 'api';

const REFUSED_STEP_FIELDS: Record<string, string> = {
  secretEnv:
    'secretEnv is not supported by the local Cloud Build (it has no Secret Manager or Cloud KMS): pass the value with env or a substitution for local runs',
  volumes:
    'volumes are not supported by the local Cloud Build: steps share the workspace; write shared files under it',
};

const REFUSED_BUILD_FIELDS: Record<string, string> = {
  secrets:
    'secrets (Cloud KMS) are not supported by the local Cloud Build: pass the value with a substitution for local runs',
  availableSecrets:
    'availableSecrets (Secret Manager) is not supported by the local Cloud Build: pass the value with a substitution for local runs',
  artifacts:
    'artifacts are not supported by the local Cloud Build; use images for container images',
  mavenArtifacts: 'mavenArtifacts are not supported by the local Cloud Build',
  pythonPackages: 'pythonPackages are not supported by the local Cloud Build',
  npmPackages: 'npmPackages are not supported by the local Cloud Build',
  goModules: 'goModules are not supported by the local Cloud Build',
  dependencies: 'dependencies are not supported by the local Cloud Build',
  gitConfig: 'gitConfig is not supported by the local Cloud Build',
};

/** Output-only fields: Google ignores them on create, so a described build can be resubmitted. */
const OUTPUT_ONLY_BUILD = [
  'name',
  'id',
  'projectId',
  'status',
  'statusDetail',
  'results',
  'createTime',
  'startTime',
  'finishTime',
  'sourceProvenance',
  'buildTriggerId',
  'logUrl',
  'timing',
  'approval',
  'warnings',
  'failureInfo',
];
const OUTPUT_ONLY_STEP = ['timing', 'pullTiming', 'status', 'exitCode'];

const MAP_FIELDS = new Set(['substitutions', 'secretEnv', 'envMap']);

/** gcloud's camel-casing of a config file: `wait_for` → `waitFor`, map keys left alone. */
export function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    out[key] = MAP_FIELDS.has(key) ? v : camelKeys(v);
  }
  return out;
}

/** A protobuf Duration in JSON: `"600s"`, `"1.5s"`; milliseconds. */
function durationMs(s: string): number | undefined {
  const m = /^(\d{1,12})(\.\d{1,9})?s$/.exec(s);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * 1000 + Number(m[2] ?? 0) * 1000);
}

const duration = z.string().transform((s, ctx) => {
  const ms = durationMs(s);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid duration ${JSON.stringify(s.slice(0, 40))}: use seconds such as "600s"`,
    });
    return z.NEVER;
  }
  return ms;
});

/** An enum by name or by its proto number, as Google's JSON accepts either. */
function protoEnum<const T extends readonly [string, ...string[]]>(
  names: T,
  numbers: Record<number, T[number]>,
) {
  return z.union([z.enum(names), z.number().int()]).transform((v, ctx): T[number] => {
    if (typeof v === 'string') return v;
    const name = numbers[v];
    if (name === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid value ${v}: expected one of ${names.join(', ')}`,
      });
      return z.NEVER;
    }
    return name;
  });
}

const strings = z.array(z.string());

const stepSchema = z.strictObject({
  name: z.string().default(''),
  args: strings.default([]),
  env: strings.default([]),
  dir: z.string().default(''),
  id: z.string().default(''),
  waitFor: strings.default([]),
  entrypoint: z.string().default(''),
  script: z.string().default(''),
  timeout: duration.optional(),
  allowFailure: z.boolean().default(false),
  allowExitCodes: z
    .array(
      z.union([
        z.number().int(),
        z
          .string()
          .regex(/^-?\d+$/)
          .transform(Number),
      ]),
    )
    .default([]),
  automapSubstitutions: z.boolean().optional(),
});

const optionsSchema = z
  .object({
    substitutionOption: protoEnum(['MUST_MATCH', 'ALLOW_LOOSE'], {
      0: 'MUST_MATCH',
      1: 'ALLOW_LOOSE',
    }).default('MUST_MATCH'),
    dynamicSubstitutions: z.boolean().default(false),
    automapSubstitutions: z.boolean().default(false),
    logging: protoEnum(
      [
        'LOGGING_UNSPECIFIED',
        'LEGACY',
        'GCS_ONLY',
        'STACKDRIVER_ONLY',
        'CLOUD_LOGGING_ONLY',
        'NONE',
      ],
      {
        0: 'LOGGING_UNSPECIFIED',
        1: 'LEGACY',
        2: 'GCS_ONLY',
        3: 'STACKDRIVER_ONLY',
        5: 'CLOUD_LOGGING_ONLY',
        4: 'NONE',
      },
    ).default('LOGGING_UNSPECIFIED'),
    env: strings.default([]),
    defaultLogsBucketBehavior: z.union([z.string(), z.number()]).transform(String).default(''),
  })
  .catchall(z.unknown());

const buildSchema = z.strictObject({
  steps: z.array(z.unknown()).default([]),
  images: strings.default([]),
  tags: strings.default([]),
  timeout: duration.optional(),
  substitutions: z.record(z.string(), z.string()).default({}),
  options: optionsSchema.prefault({}),
  serviceAccount: z.string().default(''),
  logsBucket: z.string().default(''),
  queueTtl: z.string().optional(),
  source: z
    .strictObject({
      storageSource: z.strictObject({
        bucket: z.string().min(1, { error: 'the bucket is required' }),
        object: z.string().min(1, { error: 'the object is required' }),
        generation: z.union([z.string(), z.number()]).transform(String).optional(),
        sourceFetcher: z.unknown().optional(),
      }),
    })
    .optional(),
});

function zodFailure(error: z.ZodError, at: string): RunwayError {
  const lines = error.issues.map((issue) => {
    const path = formatPath(issue.path);
    const where = path ? `${at}.${path}` : at;
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map(
          (k) =>
            `Invalid JSON payload received. Unknown name ${JSON.stringify(k)} at '${where}': Cannot find field.`,
        )
        .join('\n');
    }
    return `${where}: ${issue.message}`;
  });
  return invalidArgument(
    lines.join('\n'),
    error.issues.map((i) => ({
      field: `${at}${i.path.length ? `.${formatPath(i.path)}` : ''}`,
      description: i.message,
    })),
  );
}

function refuse(fields: Record<string, string>, obj: Record<string, unknown>, at: string): void {
  for (const [key, why] of Object.entries(fields)) {
    const v = obj[key];
    const empty =
      v === undefined ||
      v === null ||
      (Array.isArray(v) && v.length === 0) ||
      (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
    if (!empty)
      throw invalidArgument(`${at}.${key}: ${why}`, [{ field: `${at}.${key}`, description: why }]);
  }
}

function withoutKeys(
  obj: Record<string, unknown>,
  keys: readonly string[],
): Record<string, unknown> {
  const out = { ...obj };
  for (const k of keys) delete out[k];
  return out;
}

function parseStep(raw: unknown, i: number): BuildStep {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidArgument(`build.steps[${i}]: a step must be an object with a name`);
  }
  const obj = raw as Record<string, unknown>;
  refuse(REFUSED_STEP_FIELDS, obj, `build.steps[${i}]`);
  const parsed = stepSchema.safeParse(
    withoutKeys(obj, [...OUTPUT_ONLY_STEP, ...Object.keys(REFUSED_STEP_FIELDS)]),
  );
  if (!parsed.success) throw zodFailure(parsed.error, `build.steps[${i}]`);
  const { timeout, automapSubstitutions, ...rest } = parsed.data;
  return {
    ...rest,
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    ...(automapSubstitutions === undefined ? {} : { automapSubstitutions }),
  };
}

/** Parses and checks a Build given as an object (the API's JSON, or a parsed config file). */
export function parseBuild(input: unknown, origin: BuildOrigin): BuildConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidArgument('build: the build must be an object with steps');
  }
  const obj = camelKeys(input) as Record<string, unknown>;
  if (origin === 'file' && obj.source !== undefined) {
    throw invalidArgument('build config: config cannot specify source');
  }
  refuse(REFUSED_BUILD_FIELDS, obj, 'build');
  if (obj.options && typeof obj.options === 'object') {
    const o = obj.options as Record<string, unknown>;
    refuse(
      { secretEnv: REFUSED_STEP_FIELDS.secretEnv!, volumes: REFUSED_STEP_FIELDS.volumes! },
      o,
      'build.options',
    );
  }
  const parsed = buildSchema.safeParse(
    withoutKeys(obj, [...OUTPUT_ONLY_BUILD, ...Object.keys(REFUSED_BUILD_FIELDS)]),
  );
  if (!parsed.success) throw zodFailure(parsed.error, 'build');
  const b = parsed.data;
  if (b.steps.length > BUILD_LIMITS.steps) {
    throw invalidArgument(
      `invalid .steps field: cannot specify more than ${BUILD_LIMITS.steps} build steps`,
    );
  }
  const steps = b.steps.map(parseStep);
  const {
    substitutionOption,
    dynamicSubstitutions,
    automapSubstitutions,
    logging,
    env,
    defaultLogsBucketBehavior,
    ...ignored
  } = b.options;
  const build: BuildConfig = {
    steps,
    images: b.images,
    tags: b.tags,
    timeoutMs: b.timeout ?? DEFAULT_BUILD_TIMEOUT_MS,
    substitutions: b.substitutions,
    options: {
      substitutionOption,
      dynamicSubstitutions,
      automapSubstitutions,
      logging,
      env,
      defaultLogsBucketBehavior,
      ignored,
    },
    serviceAccount: b.serviceAccount,
    logsBucket: b.logsBucket,
    ...(b.source
      ? {
          source: {
            storageSource: withoutKeys(b.source.storageSource, [
              'sourceFetcher',
            ]) as unknown as StorageSource,
          },
        }
      : {}),
    ...(b.queueTtl === undefined ? {} : { queueTtl: b.queueTtl }),
  };
  checkBuild(build);
  return build;
}

/** Reads cloudbuild.yaml or .json text (YAML is a superset of JSON). */
export function parseBuildConfig(text: string, path = 'cloudbuild.yaml'): BuildConfig {
  if (Buffer.byteLength(text) > BUILD_LIMITS.configBytes) {
    throw invalidArgument(
      `${path}: the build config is larger than ${BUILD_LIMITS.configBytes} bytes`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw invalidArgument(
      `${path}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  try {
    return parseBuild(doc ?? {}, 'file');
  } catch (err) {
    if (err instanceof RunwayError) {
      throw new RunwayError(err.code, `validating ${path} as build config: ${err.message}`, {
        violations: err.violations,
      });
    }
    throw err;
  }
}

const TAG = /^[\w][\w.-]{0,127}$/;
const SERVICE_ACCOUNT = /^projects\/[^/]+\/serviceAccounts\/[^/]+$/;

/** The checks Google makes on a build before substitutions (cloud-build-local CheckBuild). */
export function checkBuild(b: BuildConfig): void {
  const bad = (message: string) => {
    throw invalidArgument(message);
  };
  if (b.timeoutMs > BUILD_LIMITS.maxTimeoutMs) bad('timeout exceeds the timeout limit of 24h0m0s');
  if (b.images.length > BUILD_LIMITS.images) {
    bad(
      `invalid .artifacts field: cannot specify more than ${BUILD_LIMITS.images} images to build`,
    );
  }
  b.images.forEach((img, i) => {
    if (img.length > BUILD_LIMITS.imageLength)
      bad(`invalid .artifacts field: image ${i} too long (max: ${BUILD_LIMITS.imageLength})`);
  });
  if (b.tags.length > BUILD_LIMITS.tags)
    bad(`invalid .tags field: cannot specify more than ${BUILD_LIMITS.tags} tags`);
  checkSteps(b.steps, b.timeoutMs);
  if (b.serviceAccount && !SERVICE_ACCOUNT.test(b.serviceAccount)) {
    bad(
      `invalid .serviceAccount field: ${JSON.stringify(b.serviceAccount.slice(0, 200))} must be of the form projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}`,
    );
  }
  if (
    b.serviceAccount &&
    !b.logsBucket &&
    b.options.defaultLogsBucketBehavior !== 'REGIONAL_USER_OWNED_BUCKET' &&
    b.options.defaultLogsBucketBehavior !== '1' &&
    !['CLOUD_LOGGING_ONLY', 'STACKDRIVER_ONLY', 'NONE'].includes(b.options.logging)
  ) {
    bad(
      "if 'build.service_account' is specified, the build must either (a) specify 'build.logs_bucket', (b) use the REGIONAL_USER_OWNED_BUCKET build.options.default_logs_bucket_behavior option, or (c) use either CLOUD_LOGGING_ONLY / NONE logging options",
    );
  }
  for (const e of b.options.env) {
    if (!e.includes('='))
      bad(
        `invalid .options.env field: the Env entry ${JSON.stringify(e)} must be of the form "KEY=VALUE"`,
      );
  }
}

/** Tags after substitutions (cloud-build-local sanitizeBuildTags). */
export function checkTags(tags: readonly string[]): void {
  for (const t of tags) {
    if (!TAG.test(t))
      throw invalidArgument(
        `invalid build tag ${JSON.stringify(t.slice(0, 200))}: must match format "^[\\w][\\w.-]{0,127}$"`,
      );
  }
}

function checkSteps(steps: readonly BuildStep[], buildTimeoutMs: number): void {
  const bad = (message: string) => {
    throw invalidArgument(`invalid .steps field: ${message}`);
  };
  if (steps.length === 0) bad('no build steps are specified');
  const known = new Set([START]);
  steps.forEach((s, i) => {
    const label = s.id ? `build step #${i} - ${JSON.stringify(s.id)}` : `build step #${i}`;
    if (!s.name) bad(`build step ${i} must specify name`);
    if (s.name.length > BUILD_LIMITS.stepNameLength)
      bad(`build step ${i} name too long (max: ${BUILD_LIMITS.stepNameLength})`);
    if (s.args.length > BUILD_LIMITS.argsPerStep)
      bad(`build step ${i} too many args (max: ${BUILD_LIMITS.argsPerStep})`);
    s.args.forEach((a, ai) => {
      if (a.length > BUILD_LIMITS.argLength)
        bad(`build step ${i} arg ${ai} too long (max: ${BUILD_LIMITS.argLength})`);
    });
    if (s.env.length > BUILD_LIMITS.envPerStep)
      bad(`build step ${i} too many envs (max: ${BUILD_LIMITS.envPerStep})`);
    if (s.dir.length > BUILD_LIMITS.dirLength)
      bad(`build step ${i} dir too long (max: ${BUILD_LIMITS.dirLength})`);
    for (const dep of s.waitFor) {
      if (!known.has(dep))
        bad(`${label} depends on ${JSON.stringify(dep)}, which has not been defined`);
    }
    if (s.id) {
      if (s.id === START)
        bad(
          `${label}: the ID cannot be "-" which is reserved as a dependency for build steps that should run first`,
        );
      if (known.has(s.id)) bad(`${label}: the ID is not unique`);
      known.add(s.id);
    }
    for (const e of s.env) {
      if (!e.includes('='))
        bad(`${label}: the Env entry ${JSON.stringify(e)} must be of the form "KEY=VALUE"`);
    }
    if (s.script && (s.entrypoint || s.args.length > 0)) {
      bad(`${label}: when script is provided, entrypoint and args cannot be specified`);
    }
    if (s.timeoutMs !== undefined) {
      if (s.timeoutMs > BUILD_LIMITS.maxTimeoutMs)
        bad(
          `invalid .timeout in ${label}: build step timeout exceeds the timeout limit of 24h0m0s`,
        );
      if (s.timeoutMs > buildTimeoutMs) {
        bad(
          `invalid .timeout in ${label}: build step timeout ${s.timeoutMs / 1000}s must be <= build timeout ${buildTimeoutMs / 1000}s`,
        );
      }
    }
  });
}
