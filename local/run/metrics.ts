// Requests of the local Cloud Run's revisions, as Cloud Monitoring reports them: counted for
// `run.googleapis.com/request_count` and timed for `run.googleapis.com/request_latencies`, per
// location (the region of the service that served the request), service, revision and response
// code class, in one-second buckets kept for an hour. The location is part of the key because the
// local Cloud Run serves every region, and a release to several regions makes services and
// revisions of the same names in each (as on Google, where `location` is a resource label of
// `cloud_run_revision`). The clock is
// injectable so a time-scaled stack stamps requests on the same clock its workflows read with
// sys.now().
//
// Latency is measured on a clock too, the injected one unless another is given: on a stack whose
// clock runs S times faster than the wall, a request that takes t ms of wall time lasts S·t ms on
// the stack's clock, and that is what is recorded, so latencies, bake windows and thresholds are
// all read in one unit. Pass `latencyNow` (for example performance.now) to record wall time instead,
// as the local Cloud Run does (local/run/index.ts).
import { emptyHistogram, type Histogram, merge, observe } from '../monitoring/distribution.ts';

export type CodeClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export interface RequestCount {
  /** The region of the service that served the requests. */
  location: string;
  service: string;
  revision: string;
  codeClass: CodeClass;
  count: number;
}

export interface RequestLatencies {
  location: string;
  service: string;
  revision: string;
  codeClass: CodeClass;
  latencies: Histogram;
}

const KEEP_MS = 3_600_000;

interface Second {
  count: number;
  /** Only requests recorded with a latency are in it. */
  latencies?: Histogram;
}

export class RequestMetrics {
  /** key `location/service/revision/class` -> second -> what was recorded in it */
  readonly #buckets = new Map<string, Map<number, Second>>();
  #pruned = 0;

  constructor(
    readonly now: () => number = Date.now,
    readonly latencyNow: () => number = now,
  ) {}

  /**
   * Starts timing a request to `revision` of `service` in region `location`; call the answer with
   * its status once its response has ended.
   */
  start(location: string, service: string, revision: string): (status: number) => void {
    const began = this.latencyNow();
    return (status) =>
      this.record(location, service, revision, status, Math.max(0, this.latencyNow() - began));
  }

  record(
    location: string,
    service: string,
    revision: string,
    status: number,
    latencyMs?: number,
  ): void {
    const codeClass = `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
    const key = `${location}/${service}/${revision}/${codeClass}`;
    const second = Math.floor(this.now() / 1000);
    let buckets = this.#buckets.get(key);
    if (!buckets) {
      buckets = new Map();
      this.#buckets.set(key, buckets);
    }
    let entry = buckets.get(second);
    if (!entry) {
      entry = { count: 0 };
      buckets.set(second, entry);
    }
    entry.count++;
    if (latencyMs !== undefined && Number.isFinite(latencyMs)) {
      entry.latencies ??= emptyHistogram();
      observe(entry.latencies, latencyMs);
    }
    if (second - this.#pruned > 60) this.#prune(second);
  }

  #prune(second: number): void {
    this.#pruned = second;
    const oldest = second - KEEP_MS / 1000;
    for (const buckets of this.#buckets.values()) {
      for (const s of buckets.keys()) if (s < oldest) buckets.delete(s);
    }
  }

  *#seconds(startMs: number, endMs: number) {
    const from = Math.floor(startMs / 1000);
    const to = Math.ceil(endMs / 1000);
    for (const [key, buckets] of this.#buckets) {
      const [location, service, revision, codeClass] = key.split('/') as [
        string,
        string,
        string,
        CodeClass,
      ];
      const inside = [...buckets].filter(([s]) => s >= from && s < to).map(([, e]) => e);
      yield { location, service, revision, codeClass, inside };
    }
  }

  /** Counts in [startMs, endMs), one per location, service, revision and class that had requests. */
  counts(startMs: number, endMs: number): RequestCount[] {
    const out: RequestCount[] = [];
    for (const { inside, ...labels } of this.#seconds(startMs, endMs)) {
      const count = inside.reduce((n, e) => n + e.count, 0);
      if (count > 0) out.push({ ...labels, count });
    }
    return out;
  }

  /** Latency histograms in [startMs, endMs), one per location, service, revision and class that had any. */
  latencies(startMs: number, endMs: number): RequestLatencies[] {
    const out: RequestLatencies[] = [];
    for (const { inside, ...labels } of this.#seconds(startMs, endMs)) {
      const latencies = emptyHistogram();
      for (const e of inside) if (e.latencies) merge(latencies, e.latencies);
      if (latencies.count > 0) out.push({ ...labels, latencies });
    }
    return out;
  }
}
