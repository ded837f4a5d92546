// Revisions of a local Cloud Run service: the checks of a revision template, whether a write makes
// a new revision, and a revision's start-up: its image resolved, an instance started and probed
// until it listens, and its conditions set as Cloud Run sets them (Ready, ContainerHealthy, and
// the failure reasons a canary reads).
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { alreadyExists, type FieldViolation, RunwayError } from '../../services/shared/errors.ts';
import {
  argvFor,
  asList,
  asObject,
  checkContainers,
  containerEnv,
  type ResolvedImage,
} from './containers.ts';
import { RevisionInstances, StartupError } from './instances.ts';
import { type Exit, LogFile } from './process.ts';
import type { Json, JsonObject } from './proto-json.ts';
import {
  type Condition,
  canonical,
  checkId,
  condition,
  identityEnv,
  logFolder,
  type Meta,
  newMeta,
  randomSuffix,
  renderMeta,
  type RunSettings,
  touch,
} from './resources.ts';

export interface RevisionRecord {
  meta: Meta;
  id: string;
  template: JsonObject;
  state: 'pending' | 'ready' | 'failed';
  conditions: Condition[];
  message?: string;
  digest?: string;
  instances?: RevisionInstances;
  log: LogFile;
  /** Settles when the revision is ready or has failed. */
  settled: Promise<void>;
}

/** What a revision reads and writes of its service. */
export interface RevisionOwner {
  id: string;
  meta: Meta;
  spec: JsonObject;
  revisions: Map<string, RevisionRecord>;
  counter: number;
  latestCreated?: string | undefined;
  latestReady?: string | undefined;
}

const RESERVED_ENV = ['PORT', 'K_SERVICE', 'K_REVISION', 'K_CONFIGURATION'];

/** The checks of a service's revision template (that there is one, the table checks). */
export function checkTemplate(id: string, spec: JsonObject): FieldViolation[] {
  if (spec.template === undefined) return [];
  const t = asObject(spec.template);
  const out = checkContainers(t.containers, 'service.template.containers', RESERVED_ENV);
  if (t.revision !== undefined && t.revision !== '') {
    const v = checkId('revision name', 'service.template.revision', t.revision, 63);
    if (v.length) out.push(...v);
    else if (!String(t.revision).startsWith(`${id}-`)) {
      out.push({
        field: 'service.template.revision',
        description: `revision name '${t.revision}' must start with the service name and a hyphen ('${id}-')`,
      });
    }
  }
  const scaling = asObject(t.scaling);
  const min = scaling.minInstanceCount;
  const max = scaling.maxInstanceCount;
  if (typeof min === 'number' && typeof max === 'number' && max > 0 && min > max) {
    out.push({
      field: 'service.template.scaling',
      description: `min_instance_count ${min} is above max_instance_count ${max}`,
    });
  }
  return out;
}

/** The revision a template names, if it names one. */
export function requestedRevision(spec: JsonObject): string | undefined {
  const revision = asObject(spec.template).revision;
  return typeof revision === 'string' && revision ? revision : undefined;
}

/** What deciding on a new revision reads of a service or worker pool. */
export interface TemplateHistory {
  revisions: Map<string, { template: JsonObject }>;
  latestCreated?: string | undefined;
}

/**
 * Whether writing `spec` makes a new revision: a new service always does, an update when its
 * template changed or names a new revision. A named revision that exists must be identical.
 */
export function revisionPlan(
  existing: TemplateHistory | undefined,
  spec: JsonObject,
): { make: boolean; name?: string } {
  const name = requestedRevision(spec);
  const named = name ? { name } : {};
  if (!existing) return { make: true, ...named };
  const latest = existing.latestCreated
    ? existing.revisions.get(existing.latestCreated)
    : undefined;
  const comparable = (t: Json | undefined) => canonical({ ...asObject(t), revision: null });
  const template = asObject(spec.template);
  const same = name ? existing.revisions.get(name) : undefined;
  if (same) {
    if (comparable(same.template) !== comparable(template)) {
      throw alreadyExists(`Revision named '${name}' with different configuration already exists.`);
    }
    return { make: false, ...named };
  }
  const changed = !latest || comparable(latest.template) !== comparable(template);
  return { make: (name !== undefined || changed) && spec.template !== undefined, ...named };
}

/** Makes the service's next revision from its template and starts it. */
export function newRevision(
  settings: RunSettings,
  svc: RevisionOwner,
  requested: string | undefined,
): RevisionRecord {
  svc.counter++;
  const id = requested ?? `${svc.id}-${String(svc.counter).padStart(5, '0')}-${randomSuffix(3)}`;
  const rev: RevisionRecord = {
    meta: newMeta(`${svc.meta.name}/revisions/${id}`),
    id,
    template: structuredClone(asObject(svc.spec.template)),
    state: 'pending',
    conditions: [condition('Ready', 'CONDITION_RECONCILING')],
    log: new LogFile(join(logFolder(settings, svc.meta.name, 'services'), `${id}.log`)),
    settled: Promise.resolve(),
  };
  svc.revisions.set(id, rev);
  svc.latestCreated = id;
  rev.settled = startRevision(settings, svc, rev);
  return rev;
}

export async function resolveImage(
  settings: RunSettings,
  ref: Json | undefined,
): Promise<ResolvedImage> {
  return settings.images.resolve(String(ref)).catch((err) => {
    throw new RunwayError(
      'NOT_FOUND',
      err instanceof RunwayError && err.code === 'NOT_FOUND'
        ? err.message
        : `Image '${ref}' not found: ${(err as Error).message}`,
    );
  });
}

async function startRevision(
  settings: RunSettings,
  svc: RevisionOwner,
  rev: RevisionRecord,
): Promise<void> {
  const container = asObject(asList(rev.template.containers)[0]);
  try {
    const image = await resolveImage(settings, container.image);
    rev.digest = image.digest;
    // The platform's identity first: a container's own env may point elsewhere, as on Cloud Run.
    const env = {
      ...(await identityEnv(settings, rev.template)),
      ...containerEnv(image, container),
      K_SERVICE: svc.id,
      K_REVISION: rev.id,
      K_CONFIGURATION: svc.id,
    };
    rev.instances = new RevisionInstances(
      {
        argv: argvFor(image, container),
        cwd: image.dir,
        env,
        log: rev.log,
        startupTimeoutMs: settings.startupTimeoutMs,
        idleMs: settings.idleMs,
        graceMs: settings.graceMs,
        ...(settings.ledger ? { ledger: settings.ledger } : {}),
      },
      (exit) => crashed(rev, exit),
    );
    await rev.instances.start();
    ready(svc, rev);
  } catch (err) {
    failed(svc, rev, err);
  }
  touch(rev.meta, false);
}

// As Knative and Cloud Run do, an instance that dies unasked marks the revision's
// ContainerHealthy condition, so a canary can see that its candidate crashed.
function crashed(rev: RevisionRecord, exit: Exit): void {
  const message = crashMessage(exit);
  rev.conditions = rev.conditions.map((c) =>
    c.type === 'ContainerHealthy'
      ? condition('ContainerHealthy', 'CONDITION_FAILED', { message })
      : c,
  );
  touch(rev.meta, false);
}

/** How Cloud Run words an instance's unasked exit in the ContainerHealthy condition. */
export function crashMessage(exit: Exit): string {
  return exit.signal
    ? `Container terminated on signal ${osConstants.signals[exit.signal] ?? exit.signal}.`
    : `Container called exit(${exit.code}).`;
}

function ready(svc: RevisionOwner, rev: RevisionRecord): void {
  rev.state = 'ready';
  rev.conditions = [
    condition('Ready', 'CONDITION_SUCCEEDED'),
    condition('ContainerHealthy', 'CONDITION_SUCCEEDED'),
    condition('ResourcesAvailable', 'CONDITION_SUCCEEDED'),
  ];
  if (
    !svc.latestReady ||
    (svc.revisions.get(svc.latestReady)?.meta.createTime ?? 0) <= rev.meta.createTime
  ) {
    svc.latestReady = rev.id;
  }
}

function failed(svc: RevisionOwner, rev: RevisionRecord, err: unknown): void {
  rev.state = 'failed';
  rev.message = `${(err as Error).message}${err instanceof StartupError ? ` Logs: runway logs ${svc.id} --revision ${rev.id}` : ''}`;
  const missing = err instanceof RunwayError && err.code === 'NOT_FOUND';
  rev.conditions = [
    condition('Ready', 'CONDITION_FAILED', {
      message: rev.message,
      ...(missing ? { reason: 'CONTAINER_MISSING' } : {}),
    }),
    condition('ContainerHealthy', 'CONDITION_FAILED', {
      message: rev.message,
      ...(err instanceof StartupError ? { revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' } : {}),
    }),
  ];
  rev.log.write('runway', `revision failed: ${rev.message}`);
}

export function renderRevision(service: string, rev: RevisionRecord): JsonObject {
  const t = rev.template;
  const container = asObject(asList(t.containers)[0]);
  return {
    ...renderMeta(rev.meta),
    labels: t.labels ?? {},
    annotations: t.annotations ?? {},
    launchStage: 'GA',
    service,
    scaling: t.scaling ?? {},
    containers: t.containers ?? [],
    timeout: t.timeout ?? '300s',
    serviceAccount: t.serviceAccount ?? '',
    maxInstanceRequestConcurrency: t.maxInstanceRequestConcurrency ?? 80,
    executionEnvironment: t.executionEnvironment ?? 'EXECUTION_ENVIRONMENT_GEN2',
    conditions: rev.conditions as unknown as Json[],
    observedGeneration: String(rev.meta.generation),
    reconciling: rev.state === 'pending',
    ...(rev.digest
      ? {
          containerStatuses: [
            {
              name: String(container.name ?? ''),
              imageDigest: `${String(container.image)
                .split('@')[0]!
                .replace(/:[^/:]*$/, '')}@${rev.digest}`,
            },
          ],
        }
      : {}),
    scalingStatus: { desiredMinInstanceCount: rev.instances?.running ? 1 : 0 },
  };
}
