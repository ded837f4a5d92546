// Cloud Run's v1 jobs (run.googleapis.com/v1 namespaces API) over the jobs the v2 API keeps, as far
// as `gcloud run jobs describe|update` needs: a job read, and replaced (replaceJob) with its
// labels, annotations and execution template, which goes through the v2 update path. gcloud puts
// the region in the host, as for services (knative.ts).
import type { IncomingMessage } from 'node:http';
import { invalidArgument, notFound } from '../../services/shared/errors.ts';
import { readJsonBody } from '../api-server.ts';
import { asList, asObject } from './containers.ts';
import type { Jobs } from './jobs.ts';
import {
  containerFromKnative,
  knativeCondition,
  knativeContainer,
  openV1Iam,
  regionOfHost,
  seconds,
  userKeys,
  type V1Iam,
} from './knative.ts';
import type { Json, JsonObject } from './proto-json.ts';
import { projectNumber, regionOf, type RunSettings } from './resources.ts';

const API = 'run.googleapis.com/v1';
const MAX_BODY = 4 * 1024 * 1024;
const JOB_ROUTE = /^\/apis\/run\.googleapis\.com\/v1\/namespaces\/([^/]+)\/jobs\/([^/:]+)$/;

type Handler = (
  m: RegExpExecArray,
  q: URLSearchParams,
  req: IncomingMessage,
) => Promise<JsonObject>;

/** A v2 job as v1 shows it. */
export function knativeJob(v2: JsonObject, settings: Pick<RunSettings, 'project' | 'region'>) {
  const number = projectNumber(settings.project);
  const id = String(v2.name ?? '')
    .split('/')
    .pop()!;
  const exec = asObject(v2.template);
  const task = asObject(exec.template);
  const latest = asObject(v2.latestCreatedExecution);
  return {
    apiVersion: API,
    kind: 'Job',
    metadata: {
      name: id,
      namespace: number,
      selfLink: `/apis/${API}/namespaces/${number}/jobs/${id}`,
      uid: v2.uid ?? '',
      resourceVersion: String(v2.etag ?? '').replace(/"/g, ''),
      generation: Number(v2.generation ?? 1),
      creationTimestamp: v2.createTime ?? '',
      labels: {
        ...userKeys(v2.labels),
        'cloud.googleapis.com/location':
          typeof v2.name === 'string' ? regionOf(v2.name) : settings.region,
      },
      annotations: {
        ...userKeys(v2.annotations),
        'run.googleapis.com/creator': String(v2.creator ?? ''),
        'run.googleapis.com/lastModifier': String(v2.lastModifier ?? ''),
        'run.googleapis.com/launch-stage': String(v2.launchStage ?? 'GA'),
      },
    },
    spec: {
      template: {
        metadata: {
          ...(Object.keys(userKeys(exec.labels)).length ? { labels: userKeys(exec.labels) } : {}),
          annotations: userKeys(exec.annotations),
        },
        spec: {
          ...(exec.parallelism ? { parallelism: exec.parallelism } : {}),
          taskCount: exec.taskCount ?? 1,
          template: {
            spec: {
              containers: asList(task.containers).map(knativeContainer),
              maxRetries: task.maxRetries ?? 3,
              timeoutSeconds: String(seconds(task.timeout)),
              serviceAccountName: task.serviceAccount ?? '',
            },
          },
        },
      },
    },
    status: {
      observedGeneration: Number(v2.observedGeneration ?? 0),
      conditions: [
        knativeCondition(asObject(v2.terminalCondition)),
        ...asList(v2.conditions).map((c) => knativeCondition(asObject(c))),
      ],
      executionCount: Number(v2.executionCount ?? 0),
      ...(latest.name
        ? {
            latestCreatedExecution: {
              name: String(latest.name).split('/').pop()!,
              creationTimestamp: latest.createTime ?? '',
              ...(latest.completionTime ? { completionTimestamp: latest.completionTime } : {}),
            },
          }
        : {}),
    },
  };
}

/** A v1 execution template over the v2 one it replaces, keeping what v1 does not carry. */
function templateFromKnative(k: JsonObject, current: JsonObject): JsonObject {
  const meta = asObject(k.metadata);
  const spec = asObject(k.spec);
  const taskSpec = asObject(asObject(spec.template).spec);
  const containers = asList(taskSpec.containers);
  const at = 'spec.template.spec.template.spec';
  if (containers.length === 0)
    throw invalidArgument(`${at}.containers: at least one container is required`);
  const count = (v: Json | undefined, field: string, min: number): number | undefined => {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min)
      throw invalidArgument(`${field} must be a whole number of at least ${min}`);
    return n;
  };
  const taskCount = count(spec.taskCount, 'spec.template.spec.taskCount', 1);
  const parallelism = count(spec.parallelism, 'spec.template.spec.parallelism', 0);
  const maxRetries = count(taskSpec.maxRetries, `${at}.maxRetries`, 0);
  const timeout = count(taskSpec.timeoutSeconds, `${at}.timeoutSeconds`, 1);
  const task = asObject(current.template);
  const before = asList(task.containers);
  return {
    ...current,
    labels: userKeys(meta.labels),
    annotations: userKeys(meta.annotations),
    ...(taskCount !== undefined ? { taskCount } : {}),
    ...(parallelism !== undefined ? { parallelism } : {}),
    template: {
      ...task,
      containers: containers.map((c, i) =>
        containerFromKnative(c, asObject(before[i]), `${at}.containers[${i}]`),
      ),
      ...(maxRetries !== undefined ? { maxRetries } : {}),
      ...(timeout !== undefined ? { timeout: `${timeout}s` } : {}),
      ...(typeof taskSpec.serviceAccountName === 'string' && taskSpec.serviceAccountName
        ? { serviceAccount: taskSpec.serviceAccountName }
        : {}),
    },
  };
}

/** The v1 job routes, to join the table in api.ts; each checks IAM as its v2 twin does. */
export function knativeJobRoutes(
  jobs: Jobs,
  settings: Pick<RunSettings, 'project' | 'region'>,
  iam: V1Iam = openV1Iam,
): [string, RegExp, Handler][] {
  const number = projectNumber(settings.project);
  const nameOf = (ns: string, id: string, req: IncomingMessage) => {
    if (ns !== settings.project && ns !== number)
      throw notFound(
        `Namespace '${ns}' is not served here: this local Cloud Run serves project ${settings.project} (number ${number})`,
      );
    const region = regionOfHost(req.headers.host);
    if (region === null)
      throw invalidArgument(
        'The global endpoint serves list methods only; send this request to the regional endpoint (https://REGION-run.googleapis.com)',
      );
    return `projects/${settings.project}/locations/${region}/jobs/${id}`;
  };
  const get = (name: string, id: string) => {
    try {
      return jobs.get(name);
    } catch {
      throw notFound(
        `Resource '${id}' of kind 'JOB' in region '${regionOf(name)}' in project '${settings.project}' does not exist.`,
      );
    }
  };
  return [
    [
      'GET',
      JOB_ROUTE,
      async (m, _q, req) => {
        const name = nameOf(m[1]!, m[2]!, req);
        iam.can(req, 'Jobs.GetJob', { resource: name });
        return knativeJob(get(name, m[2]!), settings);
      },
    ],
    [
      'PUT',
      JOB_ROUTE,
      async (m, q, req) => {
        const name = nameOf(m[1]!, m[2]!, req);
        iam.can(req, 'Jobs.ReplaceJob', { resource: name });
        const body = (await readJsonBody(req, MAX_BODY)) as JsonObject;
        const current = get(name, m[2]!);
        if (body.apiVersion !== undefined && body.apiVersion !== API)
          throw invalidArgument(
            `apiVersion must be ${API}, not ${JSON.stringify(body.apiVersion)}`,
          );
        if (body.kind !== undefined && body.kind !== 'Job')
          throw invalidArgument(`kind must be Job, not ${JSON.stringify(body.kind)}`);
        const meta = asObject(body.metadata);
        if (meta.name !== m[2])
          throw invalidArgument(
            `the name of the object (${JSON.stringify(meta.name ?? '')}) does not match the name in the URL (${m[2]})`,
          );
        const version = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
        const template = templateFromKnative(
          asObject(asObject(body.spec).template),
          asObject(current.template),
        );
        // The whole execution template is replaced, so its tasks' account is acted as, as v2's
        // UpdateJob does.
        iam.can(req, 'Jobs.ReplaceJob', {
          resource: name,
          serviceAccount: iam.actingAs(asObject(template.template)),
        });
        // UpdateJobRequest has no update mask: the whole job, its own fields kept.
        await jobs.update(
          name,
          {
            labels: userKeys(meta.labels),
            annotations: userKeys(meta.annotations),
            ...(current.launchStage ? { launchStage: current.launchStage } : {}),
            ...(current.binaryAuthorization
              ? { binaryAuthorization: current.binaryAuthorization }
              : {}),
            template,
            ...(version ? { etag: `"${version}"` } : {}),
          },
          { allowMissing: false, validateOnly: q.get('dryRun') === 'all' },
        );
        return knativeJob(jobs.get(name), settings);
      },
    ],
  ];
}
