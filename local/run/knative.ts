// The Cloud Run Admin API v1 (Knative serving.knative.dev/v1) over the same services the v2 API
// keeps, as far as gcloud needs it: `gcloud run services list|describe|update-traffic` and
// `gcloud run revisions list|describe`. Services are read and replaced (traffic, labels,
// annotations, ingress); revisions, routes and configurations are read-only. gcloud puts the
// region in front of the endpoint's host (`us-central1-run.googleapis.com`): the host a request
// names says its region, and a host without one is Google's global endpoint, which only lists.
import type { IncomingMessage } from 'node:http';
import { invalidArgument, notFound } from '../../services/shared/errors.ts';
import { readJsonBody } from '../api-server.ts';
import type { RequestResources } from '../iam/policy.ts';
import { asList, asObject } from './containers.ts';
import type { Json, JsonObject } from './proto-json.ts';
import { canonical, projectNumber, regionOf, type RunSettings } from './resources.ts';
import type { RevisionRecord } from './revisions.ts';
import type { ServiceRecord, Services } from './services.ts';
import { LATEST, REVISION } from './traffic.ts';

const API = 'serving.knative.dev/v1';
const MAX_BODY = 4 * 1024 * 1024;
const NS = '/apis/serving\\.knative\\.dev/v1/namespaces/([^/]+)';
const ID = '([^/:]+)';

// Cloud Run regions: `us-central1`, `europe-west1`, `northamerica-northeast1`.
const REGION_PREFIX = /^([a-z]+-[a-z]+[0-9]+)-/;

/** The region a request's host names (`us-central1-run.googleapis.com`), or null: the global endpoint. */
export function regionOfHost(host: string | undefined): string | null {
  return REGION_PREFIX.exec(host ?? '')?.[1] ?? null;
}

type Handler = (
  m: RegExpExecArray,
  q: URLSearchParams,
  req: IncomingMessage,
) => Promise<JsonObject>;

/**
 * The v1 API's IAM check, the same gate as v2's (api.ts): `can` checks a v1 method as Cloud Audit
 * Logs names it (`Services.ReplaceService` for `google.cloud.run.v1.Services.ReplaceService`)
 * before the handler does anything; `actingAs` is the account a v2 template runs as, as act-as
 * checks name it (the default compute account when it names none).
 */
export interface V1Iam {
  can(req: IncomingMessage, method: string, resources: RequestResources): void;
  actingAs(template: JsonObject): string;
}

/** IAM off: nothing checked. */
export const openV1Iam: V1Iam = { can: () => {}, actingAs: () => '' };

/** v2 condition state as Knative's condition status. */
const STATUS: Record<string, string> = {
  CONDITION_SUCCEEDED: 'True',
  CONDITION_FAILED: 'False',
};

export function knativeCondition(c: JsonObject): JsonObject {
  return {
    type: String(c.type),
    status: STATUS[String(c.state)] ?? 'Unknown',
    ...(c.message ? { message: c.message } : {}),
    ...(c.reason || c.revisionReason ? { reason: c.reason ?? c.revisionReason ?? '' } : {}),
    ...(c.severity ? { severity: c.severity === 'ERROR' ? 'Error' : String(c.severity) } : {}),
    lastTransitionTime: c.lastTransitionTime ?? '',
  };
}

export const seconds = (d: Json | undefined) =>
  typeof d === 'string' && /^\d+(\.\d+)?s$/.test(d) ? Math.round(Number(d.slice(0, -1))) : 300;

const INGRESS: Record<string, string> = {
  INGRESS_TRAFFIC_ALL: 'all',
  INGRESS_TRAFFIC_INTERNAL_ONLY: 'internal',
  INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER: 'internal-and-cloud-load-balancing',
};

function knativeEnv(env: Json | undefined): Json[] {
  return asList(env).map((raw): JsonObject => {
    const e = asObject(raw);
    const secret = asObject(asObject(e.valueSource).secretKeyRef);
    if (secret.secret)
      return {
        name: e.name ?? '',
        valueFrom: { secretKeyRef: { name: secret.secret, key: secret.version ?? 'latest' } },
      };
    return { name: e.name ?? '', value: e.value ?? '' };
  });
}

export function knativeContainer(raw: Json): JsonObject {
  const c = asObject(raw);
  const ports = asList(c.ports);
  const limits = asObject(asObject(c.resources).limits);
  return {
    ...(c.name ? { name: c.name } : {}),
    image: c.image ?? '',
    ...(asList(c.command).length ? { command: c.command! } : {}),
    ...(asList(c.args).length ? { args: c.args! } : {}),
    ...(asList(c.env).length ? { env: knativeEnv(c.env) } : {}),
    ports: ports.length
      ? ports.map((p) => ({
          name: asObject(p).name ?? 'http1',
          containerPort: asObject(p).containerPort ?? 8080,
        }))
      : [{ name: 'http1', containerPort: 8080 }],
    resources: { limits: { cpu: '1000m', memory: '512Mi', ...limits } },
    ...(c.workingDir ? { workingDir: c.workingDir } : {}),
  };
}

/** A v2 revision template (or revision) as Knative's RevisionSpec. */
function revisionSpec(t: JsonObject): JsonObject {
  return {
    containerConcurrency: t.maxInstanceRequestConcurrency ?? 80,
    timeoutSeconds: seconds(t.timeout),
    serviceAccountName: t.serviceAccount ?? '',
    containers: asList(t.containers).map(knativeContainer),
  };
}

function scaleAnnotations(t: JsonObject): Record<string, string> {
  const s = asObject(t.scaling);
  return {
    ...(typeof s.minInstanceCount === 'number' && s.minInstanceCount > 0
      ? { 'autoscaling.knative.dev/minScale': String(s.minInstanceCount) }
      : {}),
    ...(typeof s.maxInstanceCount === 'number' && s.maxInstanceCount > 0
      ? { 'autoscaling.knative.dev/maxScale': String(s.maxInstanceCount) }
      : {}),
  };
}

/** Knative's spec.traffic from v2's traffic. */
function knativeTraffic(traffic: Json | undefined): JsonObject[] {
  return asList(traffic).map((raw) => {
    const t = asObject(raw);
    const latest = (t.type ?? (t.revision ? REVISION : LATEST)) === LATEST;
    return {
      ...(latest ? { latestRevision: true } : { revisionName: t.revision ?? '' }),
      percent: t.percent ?? 0,
      ...(t.tag ? { tag: t.tag } : {}),
    };
  });
}

/** Knative's TrafficTargets in a request, as v2's; Knative's rules on each target. */
export function trafficFromKnative(traffic: Json | undefined): JsonObject[] {
  if (traffic !== undefined && traffic !== null && !Array.isArray(traffic))
    throw invalidArgument('spec.traffic must be a list of traffic targets');
  return asList(traffic).map((raw, i) => {
    const at = `spec.traffic[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw invalidArgument(`${at} must be an object`);
    const t = raw as JsonObject;
    const known = new Set(['revisionName', 'latestRevision', 'percent', 'tag', 'url']);
    const unknown = Object.keys(t).find((k) => !known.has(k));
    if (unknown === 'configurationName')
      throw invalidArgument(`must not set the field(s): ${at}.configurationName`);
    if (unknown)
      throw invalidArgument(`Invalid JSON payload received. Unknown name "${unknown}" at '${at}'`);
    const latest = t.latestRevision === true;
    const named = typeof t.revisionName === 'string' && t.revisionName !== '';
    if (t.latestRevision !== undefined && typeof t.latestRevision !== 'boolean')
      throw invalidArgument(`${at}.latestRevision must be true or false`);
    if (latest && named)
      throw invalidArgument(
        `may not set revisionName "${t.revisionName}" when latestRevision is true: ${at}`,
      );
    if (!latest && !named)
      throw invalidArgument(
        `expected exactly one, got neither: ${at}.latestRevision, ${at}.revisionName`,
      );
    if (t.percent !== undefined && (!Number.isInteger(t.percent) || (t.percent as number) < 0))
      throw invalidArgument(`${at}.percent must be a whole number from 0 to 100`);
    return {
      type: latest ? LATEST : REVISION,
      ...(named ? { revision: t.revisionName! } : {}),
      percent: (t.percent as number | undefined) ?? 0,
      ...(typeof t.tag === 'string' && t.tag ? { tag: t.tag } : {}),
    };
  });
}

// Annotations and labels the server sets: derived on every read, never stored from a request.
const SYSTEM_KEY =
  /^(serving\.knative\.dev|run\.googleapis\.com|cloud\.googleapis\.com|autoscaling\.knative\.dev|client\.knative\.dev)\//;

export const userKeys = (m: Json | undefined): Record<string, string> =>
  Object.fromEntries(
    Object.entries(asObject(m)).filter(([k, v]) => !SYSTEM_KEY.test(k) && typeof v === 'string'),
  ) as Record<string, string>;

/** The v1 view of the local Cloud Run's services in one region. */
export class KnativeView {
  readonly number: string;

  constructor(
    readonly services: Services,
    readonly settings: Pick<RunSettings, 'project' | 'region'>,
  ) {
    this.number = projectNumber(settings.project);
  }

  /** The region a v2 resource lives in, by its own name. */
  regionOf(from: JsonObject): string {
    return typeof from.name === 'string' && from.name.startsWith('projects/')
      ? regionOf(from.name)
      : this.settings.region;
  }

  selfLink(kind: string, name: string): string {
    return `/apis/${API}/namespaces/${this.number}/${kind}/${name}`;
  }

  meta(kind: string, name: string, from: JsonObject, extra: JsonObject = {}): JsonObject {
    const labels = asObject(extra.labels);
    const annotations = asObject(extra.annotations);
    return {
      name,
      namespace: this.number,
      selfLink: this.selfLink(kind, name),
      uid: from.uid ?? '',
      resourceVersion: String(from.etag ?? '').replace(/"/g, ''),
      generation: Number(from.generation ?? 1),
      creationTimestamp: from.createTime ?? '',
      labels: { ...labels, 'cloud.googleapis.com/location': this.regionOf(from) },
      annotations,
      ...(extra.ownerReferences ? { ownerReferences: extra.ownerReferences } : {}),
    };
  }

  template(svc: ServiceRecord): JsonObject {
    const t = asObject(this.services.render(svc).template);
    return {
      metadata: {
        ...(t.revision ? { name: t.revision } : {}),
        ...(Object.keys(asObject(t.labels)).length ? { labels: t.labels! } : {}),
        annotations: { ...userKeys(t.annotations), ...scaleAnnotations(t) },
      },
      spec: revisionSpec(t),
    };
  }

  service(svc: ServiceRecord): JsonObject {
    const v2 = this.services.render(svc);
    const ready = svc.latestReady ?? '';
    const statusTraffic = svc.served.map((t) => ({
      revisionName: t.revision,
      percent: t.percent,
      ...(t.type === LATEST ? { latestRevision: true } : {}),
      ...(t.tag ? { tag: t.tag, url: svc.tags.get(t.tag)?.url ?? '' } : {}),
    }));
    const url = String(v2.uri ?? '');
    return {
      apiVersion: API,
      kind: 'Service',
      metadata: this.meta('services', svc.id, v2, {
        labels: asObject(v2.labels),
        annotations: {
          ...userKeys(v2.annotations),
          'serving.knative.dev/creator': String(v2.creator),
          'serving.knative.dev/lastModifier': String(v2.lastModifier),
          'run.googleapis.com/ingress': INGRESS[String(v2.ingress)] ?? 'all',
          'run.googleapis.com/ingress-status': INGRESS[String(v2.ingress)] ?? 'all',
        },
      }),
      spec: { template: this.template(svc), traffic: knativeTraffic(v2.traffic) },
      status: {
        observedGeneration: Number(v2.observedGeneration ?? 0),
        conditions: [
          knativeCondition(asObject(v2.terminalCondition)),
          ...asList(v2.conditions).map((c) => knativeCondition(asObject(c))),
        ],
        latestReadyRevisionName: ready,
        latestCreatedRevisionName: svc.latestCreated ?? '',
        traffic: statusTraffic,
        url,
        address: { url },
      },
    };
  }

  revision(svc: ServiceRecord, rev: RevisionRecord): JsonObject {
    const v2 = this.services.getRevision(`${svc.meta.name}/revisions/${rev.id}`);
    const serving = svc.served.some((t) => t.revision === rev.id);
    const t = rev.template;
    const digest = asObject(asList(v2.containerStatuses)[0]).imageDigest;
    return {
      apiVersion: API,
      kind: 'Revision',
      metadata: this.meta('revisions', rev.id, v2, {
        labels: {
          ...asObject(t.labels),
          'serving.knative.dev/service': svc.id,
          'serving.knative.dev/configuration': svc.id,
          'serving.knative.dev/configurationGeneration': String(svc.meta.generation),
          ...(serving ? { 'serving.knative.dev/route': svc.id } : {}),
        },
        annotations: {
          ...userKeys(t.annotations),
          ...scaleAnnotations(t),
          'serving.knative.dev/creator': 'runway-local',
        },
        ownerReferences: [
          {
            kind: 'Configuration',
            name: svc.id,
            uid: svc.meta.uid,
            apiVersion: API,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      }),
      spec: revisionSpec(t),
      status: {
        observedGeneration: 1,
        conditions: [
          ...asList(v2.conditions).map((c) => knativeCondition(asObject(c))),
          {
            type: 'Active',
            status: serving ? 'True' : 'False',
            ...(serving ? {} : { reason: 'Reserve', severity: 'Info' }),
            lastTransitionTime: String(v2.updateTime ?? ''),
          },
        ],
        ...(typeof digest === 'string' ? { imageDigest: digest } : {}),
        serviceName: svc.id,
      },
    };
  }

  configuration(svc: ServiceRecord): JsonObject {
    const v2 = this.services.render(svc);
    return {
      apiVersion: API,
      kind: 'Configuration',
      metadata: this.meta('configurations', svc.id, v2, {
        labels: {
          'serving.knative.dev/service': svc.id,
          'serving.knative.dev/serviceUid': svc.meta.uid,
        },
        ownerReferences: [this.owner(svc)],
      }),
      spec: { template: this.template(svc) },
      status: {
        observedGeneration: Number(v2.observedGeneration ?? 0),
        conditions: [knativeCondition(asObject(v2.terminalCondition))],
        latestCreatedRevisionName: svc.latestCreated ?? '',
        latestReadyRevisionName: svc.latestReady ?? '',
      },
    };
  }

  route(svc: ServiceRecord): JsonObject {
    const service = this.service(svc);
    const status = asObject(service.status);
    return {
      apiVersion: API,
      kind: 'Route',
      metadata: this.meta('routes', svc.id, this.services.render(svc), {
        labels: {
          'serving.knative.dev/service': svc.id,
          'serving.knative.dev/serviceUid': svc.meta.uid,
        },
        ownerReferences: [this.owner(svc)],
      }),
      spec: { traffic: asObject(service.spec).traffic ?? [] },
      status: {
        observedGeneration: status.observedGeneration ?? 0,
        conditions: asList(status.conditions).filter((c) => asObject(c).type === 'Ready'),
        traffic: status.traffic ?? [],
        url: status.url ?? '',
        address: status.address ?? {},
      },
    };
  }

  owner(svc: ServiceRecord): JsonObject {
    return {
      kind: 'Service',
      name: svc.id,
      uid: svc.meta.uid,
      apiVersion: API,
      controller: true,
      blockOwnerDeletion: true,
    };
  }
}

/** Knative's labelSelector: `k=v`, `k==v`, `k!=v`, `k` and `!k`, comma-separated (all must hold). */
export function labelSelector(text: string | null): (labels: JsonObject) => boolean {
  if (!text) return () => true;
  const tests = text.split(',').map((part) => {
    const m = /^\s*(!?)([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*))?\s*$/.exec(part);
    if (!m || (m[1] && m[3]))
      throw invalidArgument(
        `labelSelector: cannot parse "${part.slice(0, 100)}"; use k=v, k!=v, k or !k`,
      );
    const [, not, key, op, value] = m;
    return (labels: JsonObject) => {
      const has = typeof labels[key!] === 'string';
      if (!op) return not ? !has : has;
      return op === '!=' ? labels[key!] !== value : labels[key!] === value;
    };
  });
  return (labels) => tests.every((t) => t(labels));
}

/** Knative's list response. */
function listOf(kind: string, items: JsonObject[], q: URLSearchParams): JsonObject {
  const select = labelSelector(q.get('labelSelector'));
  const chosen = items.filter((i) => select(asObject(asObject(i.metadata).labels)));
  const limit = Number(q.get('limit') ?? 0);
  const start = q.get('continue')
    ? Number(Buffer.from(q.get('continue')!, 'base64url').toString())
    : 0;
  if (!Number.isInteger(start) || start < 0 || start > chosen.length)
    throw invalidArgument('continue is not a token this API gave');
  const end = limit > 0 ? start + limit : chosen.length;
  return {
    apiVersion: API,
    kind: `${kind}List`,
    metadata: {
      selfLink: '',
      resourceVersion: '',
      ...(end < chosen.length ? { continue: Buffer.from(String(end)).toString('base64url') } : {}),
    },
    items: chosen.slice(start, end),
    unreachable: [],
  };
}

/** The v1 routes, to join the v2 table in api.ts; each checks IAM as its v2 twin does. */
export function knativeRoutes(
  view: KnativeView,
  iam: V1Iam = openV1Iam,
): [string, RegExp, Handler][] {
  const { services, settings } = view;
  /** The request's region; get and replace need one, as Google's global endpoint only lists. */
  const where = (ns: string, req: IncomingMessage, needsRegion: boolean) => {
    if (ns !== settings.project && ns !== view.number)
      throw notFound(
        `Namespace '${ns}' is not served here: this local Cloud Run serves project ${settings.project} (number ${view.number})`,
      );
    const region = regionOfHost(req.headers.host);
    if (region === null && needsRegion)
      throw invalidArgument(
        'The global endpoint serves list methods only; send this request to the regional endpoint (https://REGION-run.googleapis.com)',
      );
    return region;
  };
  /** `projects/P/locations/R`; the global endpoint's (null) is every region's, `-`. */
  const location = (region: string | null) =>
    `projects/${settings.project}/locations/${region ?? '-'}`;
  /** A region's services; the global endpoint (null) lists every region's. */
  const inRegion = (region: string | null) =>
    region === null ? services.table.records() : services.table.recordsIn(location(region));
  /**
   * The service a request names, after `method`'s check on its v2 name. A service's
   * configuration and route are the service's own (same name, no policy of their own), so their
   * checks are made on the service too: a grant on the service reads them, as on Google.
   */
  const record = (ns: string, id: string, req: IncomingMessage, method: string) => {
    const region = where(ns, req, true);
    const name = `${location(region)}/services/${id}`;
    iam.can(req, method, { resource: name });
    const svc = services.table.find(name);
    if (!svc)
      throw notFound(
        `Resource '${id}' of kind 'SERVICE' in region '${region}' in project '${settings.project}' does not exist.`,
      );
    return svc;
  };
  /** A list's check, on the region (or every region) it lists. */
  const listed = (region: string | null, req: IncomingMessage, method: string, kind: string) => {
    const parent = location(region);
    iam.can(req, method, { resource: `${parent}/${kind}`, parent });
    return inRegion(region);
  };
  const all = (ns: string, req: IncomingMessage, method: string, kind: string) =>
    listed(where(ns, req, false), req, method, kind);
  /**
   * A v1 revision name does not say its service: found first, then checked on its v2 name; one
   * that does not exist is checked on the region, so a caller without the permission learns
   * nothing of it.
   */
  const revisionOf = (ns: string, id: string, req: IncomingMessage) => {
    const region = where(ns, req, true);
    for (const svc of inRegion(region)) {
      const rev = svc.revisions.get(id);
      if (!rev) continue;
      iam.can(req, 'Revisions.GetRevision', { resource: `${svc.meta.name}/revisions/${id}` });
      return { svc, rev };
    }
    iam.can(req, 'Revisions.GetRevision', { resource: `${location(region)}/revisions/${id}` });
    throw notFound(`Revision '${id}' does not exist.`);
  };

  /** The `projects/P/locations/L` form: L is a region, or `-` for every region. */
  const located = (project: string, loc: string, req: IncomingMessage) => {
    if (project !== settings.project && project !== view.number)
      throw notFound(
        `Project '${project}' is not served here: this local Cloud Run serves ${settings.project}`,
      );
    return listed(loc === '-' ? null : loc, req, 'Services.ListServices', 'services');
  };

  return [
    [
      'GET',
      /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/services$/,
      async (m, q, req) =>
        listOf(
          'Service',
          located(m[1]!, m[2]!, req).map((s) => view.service(s)),
          q,
        ),
    ],
    [
      'GET',
      new RegExp(`^${NS}/services$`),
      async (m, q, req) =>
        listOf(
          'Service',
          all(m[1]!, req, 'Services.ListServices', 'services').map((s) => view.service(s)),
          q,
        ),
    ],
    [
      'GET',
      new RegExp(`^${NS}/services/${ID}$`),
      async (m, _q, req) => view.service(record(m[1]!, m[2]!, req, 'Services.GetService')),
    ],
    [
      'PUT',
      new RegExp(`^${NS}/services/${ID}$`),
      async (m, q, req) => {
        const svc = record(m[1]!, m[2]!, req, 'Services.ReplaceService');
        const body = (await readJsonBody(req, MAX_BODY)) as JsonObject;
        // A new revision template deploys as its account: act-as on it, as v2's UpdateService.
        const actAs = (template: JsonObject) =>
          iam.can(req, 'Services.ReplaceService', {
            resource: svc.meta.name,
            serviceAccount: iam.actingAs(template),
          });
        await replaceService(view, svc, body, q.get('dryRun') === 'all', actAs);
        return view.service(svc);
      },
    ],
    [
      'GET',
      new RegExp(`^${NS}/revisions$`),
      async (m, q, req) =>
        listOf(
          'Revision',
          all(m[1]!, req, 'Revisions.ListRevisions', 'revisions').flatMap((s) =>
            [...s.revisions.values()].reverse().map((r) => view.revision(s, r)),
          ),
          q,
        ),
    ],
    [
      'GET',
      new RegExp(`^${NS}/revisions/${ID}$`),
      async (m, _q, req) => {
        const { svc, rev } = revisionOf(m[1]!, m[2]!, req);
        return view.revision(svc, rev);
      },
    ],
    [
      'GET',
      new RegExp(`^${NS}/configurations$`),
      async (m, q, req) =>
        listOf(
          'Configuration',
          all(m[1]!, req, 'Configurations.ListConfigurations', 'configurations').map((s) =>
            view.configuration(s),
          ),
          q,
        ),
    ],
    [
      'GET',
      new RegExp(`^${NS}/configurations/${ID}$`),
      async (m, _q, req) =>
        view.configuration(record(m[1]!, m[2]!, req, 'Configurations.GetConfiguration')),
    ],
    [
      'GET',
      new RegExp(`^${NS}/routes$`),
      async (m, q, req) =>
        listOf(
          'Route',
          all(m[1]!, req, 'Routes.ListRoutes', 'routes').map((s) => view.route(s)),
          q,
        ),
    ],
    [
      'GET',
      new RegExp(`^${NS}/routes/${ID}$`),
      async (m, _q, req) => view.route(record(m[1]!, m[2]!, req, 'Routes.GetRoute')),
    ],
  ];
}

/** Knative's env as v2's: values, and secrets as `valueSource.secretKeyRef`. */
function envFromKnative(env: Json | undefined, at: string): Json[] {
  return asList(env).map((raw, i): JsonObject => {
    const e = asObject(raw);
    if (typeof e.name !== 'string' || e.name === '')
      throw invalidArgument(`${at}.env[${i}].name is required`);
    const secret = asObject(asObject(e.valueFrom).secretKeyRef);
    if (secret.name)
      return {
        name: e.name,
        valueSource: { secretKeyRef: { secret: secret.name, version: secret.key ?? 'latest' } },
      };
    return { name: e.name, value: typeof e.value === 'string' ? e.value : '' };
  });
}

/** A Knative container over the v2 container it replaces, keeping what v1 does not carry (probes). */
export function containerFromKnative(raw: Json, before: JsonObject, at: string): JsonObject {
  const c = asObject(raw);
  if (typeof c.image !== 'string' || c.image === '')
    throw invalidArgument(`${at}.image is required`);
  const limits = asObject(asObject(c.resources).limits);
  const { command: _c, args: _a, env: _e, workingDir: _w, ...kept } = before;
  return {
    ...kept,
    ...(c.name ? { name: c.name } : {}),
    image: c.image,
    ...(asList(c.command).length ? { command: c.command! } : {}),
    ...(asList(c.args).length ? { args: c.args! } : {}),
    ...(asList(c.env).length ? { env: envFromKnative(c.env, at) } : {}),
    ...(asList(c.ports).length
      ? {
          ports: asList(c.ports).map((p) => ({
            ...(asObject(p).name ? { name: asObject(p).name! } : {}),
            containerPort: asObject(p).containerPort ?? 8080,
          })),
        }
      : {}),
    ...(Object.keys(limits).length ? { resources: { ...asObject(before.resources), limits } } : {}),
    ...(c.workingDir ? { workingDir: c.workingDir } : {}),
  };
}

/**
 * A Knative revision template as the v2 template it becomes, over the current one so that what
 * v1 does not carry survives: a new revision, named by `metadata.name` when the client names it.
 */
function templateFromKnative(k: JsonObject, current: JsonObject): JsonObject {
  const meta = asObject(k.metadata);
  const spec = asObject(k.spec);
  const annotations = asObject(meta.annotations);
  const containers = asList(spec.containers);
  if (containers.length === 0)
    throw invalidArgument('spec.template.spec.containers: at least one container is required');
  const scale = (key: string): number | undefined => {
    const v = annotations[`autoscaling.knative.dev/${key}`];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw invalidArgument(
        `spec.template.metadata.annotations[autoscaling.knative.dev/${key}] must be a whole number, not ${JSON.stringify(v)}`,
      );
    return n;
  };
  const [min, max] = [scale('minScale'), scale('maxScale')];
  const timeout = spec.timeoutSeconds;
  if (timeout !== undefined && (!Number.isInteger(timeout) || (timeout as number) <= 0))
    throw invalidArgument('spec.template.spec.timeoutSeconds must be a whole number of seconds');
  const {
    revision: _r,
    labels: _l,
    annotations: _a,
    scaling: _s,
    containers: before,
    ...kept
  } = current;
  const beforeContainers = asList(before);
  return {
    ...kept,
    ...(typeof meta.name === 'string' && meta.name ? { revision: meta.name } : {}),
    labels: userKeys(meta.labels),
    annotations: userKeys(annotations),
    ...(min !== undefined || max !== undefined
      ? {
          scaling: {
            ...(min !== undefined ? { minInstanceCount: min } : {}),
            ...(max !== undefined ? { maxInstanceCount: max } : {}),
          },
        }
      : {}),
    ...(spec.containerConcurrency !== undefined
      ? { maxInstanceRequestConcurrency: spec.containerConcurrency }
      : {}),
    ...(timeout !== undefined ? { timeout: `${timeout}s` } : {}),
    ...(typeof spec.serviceAccountName === 'string' && spec.serviceAccountName
      ? { serviceAccount: spec.serviceAccountName }
      : {}),
    containers: containers.map((c, i) =>
      containerFromKnative(c, asObject(beforeContainers[i]), `spec.template.spec.containers[${i}]`),
    ),
  };
}

/**
 * replaceService: only spec and metadata labels and annotations are writable (Google's words).
 * Traffic, user labels and annotations and ingress apply as they are; a changed revision template
 * goes through the v2 update path, which makes a new revision, as Cloud Run's v1 API does. The
 * service's generation moves and its Ready condition reconciles until the revision is ready, which
 * is what gcloud waits on.
 */
async function replaceService(
  view: KnativeView,
  svc: ServiceRecord,
  body: JsonObject,
  dryRun: boolean,
  actAs: (template: JsonObject) => void,
): Promise<void> {
  if (body.apiVersion !== undefined && body.apiVersion !== API)
    throw invalidArgument(`apiVersion must be ${API}, not ${JSON.stringify(body.apiVersion)}`);
  if (body.kind !== undefined && body.kind !== 'Service')
    throw invalidArgument(`kind must be Service, not ${JSON.stringify(body.kind)}`);
  const meta = asObject(body.metadata);
  if (meta.name !== svc.id)
    throw invalidArgument(
      `the name of the object (${JSON.stringify(meta.name ?? '')}) does not match the name in the URL (${svc.id})`,
    );
  const spec = asObject(body.spec);
  const template = asObject(spec.template);
  // The nonce gcloud adds to a template it changed asks for a new revision, as in Knative.
  const nonce = asObject(asObject(template.metadata).labels)['client.knative.dev/nonce'];
  const changed =
    canonical(pruned(withoutNonce(template))) !== canonical(pruned(view.template(svc)));
  const annotations = asObject(meta.annotations);
  const ingress = Object.entries(INGRESS).find(
    ([, v]) => v === annotations['run.googleapis.com/ingress'],
  )?.[0];
  if (annotations['run.googleapis.com/ingress'] !== undefined && !ingress)
    throw invalidArgument(
      `metadata.annotations[run.googleapis.com/ingress]: ${JSON.stringify(annotations['run.googleapis.com/ingress'])} is not one of ${Object.values(INGRESS).join(', ')}`,
    );
  const traffic = trafficFromKnative(spec.traffic);
  const version = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
  const newTemplate =
    changed || nonce !== undefined
      ? templateFromKnative(template, asObject(view.services.render(svc).template))
      : undefined;
  if (newTemplate) actAs(newTemplate);
  await view.services.update(
    svc.meta.name,
    {
      traffic,
      labels: userKeys(meta.labels),
      annotations: userKeys(meta.annotations),
      ...(ingress ? { ingress } : {}),
      ...(newTemplate ? { template: newTemplate } : {}),
      ...(version ? { etag: `"${version}"` } : {}),
    },
    {
      mask: [
        'traffic',
        'labels',
        'annotations',
        ...(ingress ? ['ingress'] : []),
        ...(newTemplate ? ['template'] : []),
      ],
      allowMissing: false,
      validateOnly: dryRun,
    },
  );
}

function withoutNonce(template: JsonObject): JsonObject {
  const meta = asObject(template.metadata);
  const { 'client.knative.dev/nonce': _n, ...labels } = asObject(meta.labels);
  return { ...template, metadata: { ...meta, labels } };
}

/** JSON without null, empty strings, empty lists and empty objects: what a client may drop. */
function pruned(value: Json | undefined): Json | undefined {
  if (Array.isArray(value)) {
    const out = value.map(pruned).filter((v) => v !== undefined) as Json[];
    return out.length ? out : undefined;
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .map(([k, v]) => [k, pruned(v)] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length ? (Object.fromEntries(entries) as JsonObject) : undefined;
  }
  return value === null || value === '' ? undefined : value;
}
