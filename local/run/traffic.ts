// Traffic of a local Cloud Run service: the checks Cloud Run makes on traffic targets, LATEST
// resolved to the latest ready revision, and the routing each service URL (split by percent) and
// each tag URL (its revision directly) follows. Traffic goes only to ready revisions.
import type { FieldViolation } from '../../services/shared/errors.ts';
import { asList, asObject } from './containers.ts';
import type { Json, JsonObject } from './proto-json.ts';
import type { RequestMetrics } from './metrics.ts';
import { regionOf } from './resources.ts';
import type { RevisionRecord } from './revisions.ts';
import {
  type Backend,
  type Listener,
  openListener,
  type RequestGate,
  type Routing,
} from './router.ts';

type AllocationType =
  | 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST'
  | 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';
export const LATEST: AllocationType = 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST';
export const REVISION: AllocationType = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';

export interface Target {
  type: AllocationType;
  revision: string;
  percent: number;
  tag?: string;
}

/** What traffic reads and writes of a service. */
export interface TrafficState {
  /** The service's full name, `projects/P/locations/L/services/S`: its region labels its metrics. */
  meta: { name: string };
  id: string;
  spec: JsonObject;
  revisions: Map<string, RevisionRecord>;
  latestReady?: string | undefined;
  /** The traffic being served: only ready revisions, LATEST resolved. */
  served: Target[];
  tags: Map<string, Listener>;
  /** The service URL's routing, computed once per traffic change. */
  routing?: Routing | undefined;
  /** The invoker check of the service's URLs (its own and its tags'), if any. */
  gate?: RequestGate | undefined;
}

const TAG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function checkTag(tag: Json, at: string, id: string, tags: Set<string>): FieldViolation[] {
  if (typeof tag !== 'string' || !TAG.test(tag) || tag.length + 3 + id.length > 63) {
    return [
      {
        field: `${at}.tag`,
        description: `tag ${JSON.stringify(tag)} must be lowercase letters, digits and hyphens, start with a letter, and with '---${id}' fit in 63 characters`,
      },
    ];
  }
  if (tags.has(tag)) {
    return [{ field: `${at}.tag`, description: `tag '${tag}' is used by two traffic targets` }];
  }
  tags.add(tag);
  return [];
}

function checkTarget(
  t: JsonObject,
  at: string,
  id: string,
  exists: (revision: string) => boolean,
): FieldViolation[] {
  const type = t.type ?? (t.revision ? REVISION : LATEST);
  if (type === REVISION) {
    if (typeof t.revision !== 'string' || !t.revision) {
      return [{ field: `${at}.revision`, description: 'a REVISION target names a revision' }];
    }
    if (!exists(t.revision)) {
      return [
        {
          field: `${at}.revision`,
          description: `Revision '${t.revision}' does not exist in service '${id}'`,
        },
      ];
    }
    return [];
  }
  if (type === LATEST && t.revision) {
    return [{ field: `${at}.revision`, description: 'a LATEST target must not name a revision' }];
  }
  if (type !== LATEST) {
    return [{ field: `${at}.type`, description: 'type must be LATEST or REVISION' }];
  }
  return [];
}

/** The checks of a spec's traffic; `newRevision` is the revision this write makes, if named. */
export function checkTraffic(
  service: TrafficState | undefined,
  id: string,
  spec: JsonObject,
  newRevision?: string,
): FieldViolation[] {
  const traffic = asList(spec.traffic);
  if (traffic.length === 0) return [];
  const out: FieldViolation[] = [];
  const exists = (r: string) => r === newRevision || (service?.revisions.has(r) ?? false);
  const tags = new Set<string>();
  let sum = 0;
  traffic.forEach((raw, i) => {
    const t = asObject(raw);
    const at = `service.traffic[${i}]`;
    const percent = t.percent ?? 0;
    if (typeof percent !== 'number' || percent < 0 || percent > 100) {
      out.push({ field: `${at}.percent`, description: 'percent must be between 0 and 100' });
    } else sum += percent;
    out.push(...checkTarget(t, at, id, exists));
    if (t.tag !== undefined && t.tag !== '') out.push(...checkTag(t.tag, at, id, tags));
  });
  if (out.length === 0 && sum !== 100) {
    out.push({
      field: 'service.traffic',
      description: `traffic percentages must sum to 100, not ${sum}`,
    });
  }
  return out;
}

/** The spec's traffic with LATEST resolved to the latest ready revision. */
export function resolveTraffic(svc: TrafficState): Target[] {
  const traffic = asList(svc.spec.traffic);
  const entries = traffic.length ? traffic.map(asObject) : [{ type: LATEST, percent: 100 }];
  return entries.map((t) => {
    const type = (t.type ?? (t.revision ? REVISION : LATEST)) as AllocationType;
    const revision = type === LATEST ? (svc.latestReady ?? '') : String(t.revision);
    return {
      type,
      revision,
      percent: typeof t.percent === 'number' ? t.percent : 0,
      ...(typeof t.tag === 'string' && t.tag ? { tag: t.tag } : {}),
    };
  });
}

/** A service's traffic and the requests it sends to its revisions' instances. */
export class Traffic {
  constructor(readonly metrics: RequestMetrics | undefined) {}

  /** Serves `targets`: opens tag URLs, keeps serving revisions warm and retires the rest. */
  async serve(svc: TrafficState, targets: Target[]): Promise<void> {
    svc.served = targets.filter((t) => t.revision);
    svc.routing = undefined;
    for (const t of svc.served) {
      if (t.tag && !svc.tags.has(t.tag)) {
        const tag = t.tag;
        svc.tags.set(tag, await openListener(() => this.routeTag(svc, tag), svc.gate));
      }
    }
    const minFor = (rev: RevisionRecord) => {
      const own = asObject(rev.template.scaling).minInstanceCount;
      const service = asObject(svc.spec.scaling).minInstanceCount;
      return Math.max(typeof own === 'number' ? own : 0, typeof service === 'number' ? service : 0);
    };
    for (const rev of svc.revisions.values()) {
      const serving = svc.served.filter((t) => t.revision === rev.id);
      if (serving.some((t) => t.percent > 0)) rev.instances?.setMinInstances(minFor(rev));
      else if (serving.length > 0) rev.instances?.setMinInstances(0);
      else if (rev.instances?.running) void rev.instances.retire();
    }
  }

  /** The service URL's routing: a split over the revisions served at more than 0 percent. */
  route(svc: TrafficState): Routing {
    svc.routing ??= this.#split(svc);
    return svc.routing;
  }

  #split(svc: TrafficState): Routing {
    const targets = svc.served
      .filter((t) => t.percent > 0)
      .map((t) => ({ t, rev: svc.revisions.get(t.revision) }))
      .filter((x) => x.rev?.instances)
      .map(({ t, rev }) => ({ backend: this.#backend(svc, rev!), percent: t.percent }));
    if (targets.length === 0) {
      return {
        kind: 'none',
        status: 503,
        message: `Service Unavailable: service ${svc.id} has no ready revision serving traffic`,
      };
    }
    return { kind: 'split', targets };
  }

  /** A tag URL's routing: the tagged revision, whatever its percent. */
  routeTag(svc: TrafficState, tag: string): Routing {
    const t = svc.served.find((x) => x.tag === tag);
    const rev = t && svc.revisions.get(t.revision);
    if (!rev?.instances) {
      return {
        kind: 'none',
        status: 404,
        message: `Not Found: tag '${tag}' no longer points at a revision of ${svc.id}`,
      };
    }
    return { kind: 'split', targets: [{ backend: this.#backend(svc, rev), percent: 100 }] };
  }

  #backend(svc: TrafficState, rev: RevisionRecord): Backend {
    const location = regionOf(svc.meta.name);
    return {
      revision: rev.id,
      instances: rev.instances!,
      begin: () => this.metrics?.start(location, svc.id, rev.id) ?? (() => {}),
      timeoutMs:
        typeof rev.template.timeout === 'string'
          ? Number(rev.template.timeout.slice(0, -1)) * 1000
          : 300_000,
    };
  }
}

/** The service's `traffic` and `trafficStatuses` as the Admin API shows them. */
export function renderTraffic(svc: TrafficState): JsonObject {
  const traffic = asList(svc.spec.traffic).length
    ? svc.spec.traffic!
    : [{ type: LATEST, percent: 100 }];
  const tagUri = (tag: string) => svc.tags.get(tag)?.url ?? '';
  return {
    traffic,
    trafficStatuses: svc.served.map((t) => ({
      type: t.type,
      ...(t.type === REVISION ? { revision: t.revision } : {}),
      percent: t.percent,
      ...(t.tag ? { tag: t.tag, uri: tagUri(t.tag) } : {}),
    })),
  };
}
