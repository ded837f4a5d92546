// Request counts of the local Cloud Run's revisions, as Cloud Monitoring's
// `run.googleapis.com/request_count` reports them: per service, revision and response code class,
// in one-second buckets kept for an hour. The clock is injectable so a time-scaled stack stamps
// requests on the same clock its workflows read with sys.now().
export type CodeClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export interface RequestCount {
  service: string;
  revision: string;
  codeClass: CodeClass;
  count: number;
}

const KEEP_MS = 3_600_000;

export class RequestMetrics {
  /** key `service/revision/class` -> second -> count */
  readonly #buckets = new Map<string, Map<number, number>>();
  #pruned = 0;

  constructor(readonly now: () => number = Date.now) {}

  record(service: string, revision: string, status: number): void {
    const codeClass = `${Math.min(5, Math.max(1, Math.floor(status / 100)))}xx`;
    const key = `${service}/${revision}/${codeClass}`;
    const second = Math.floor(this.now() / 1000);
    let buckets = this.#buckets.get(key);
    if (!buckets) {
      buckets = new Map();
      this.#buckets.set(key, buckets);
    }
    buckets.set(second, (buckets.get(second) ?? 0) + 1);
    if (second - this.#pruned > 60) this.#prune(second);
  }

  #prune(second: number): void {
    this.#pruned = second;
    const oldest = second - KEEP_MS / 1000;
    for (const buckets of this.#buckets.values()) {
      for (const s of buckets.keys()) if (s < oldest) buckets.delete(s);
    }
  }

  /** Counts in [startMs, endMs), one per service, revision and class that had requests. */
  counts(startMs: number, endMs: number): RequestCount[] {
    const out: RequestCount[] = [];
    const from = Math.floor(startMs / 1000);
    const to = Math.ceil(endMs / 1000);
    for (const [key, buckets] of this.#buckets) {
      let count = 0;
      for (const [s, n] of buckets) if (s >= from && s < to) count += n;
      if (count === 0) continue;
      const [service, revision, codeClass] = key.split('/') as [string, string, CodeClass];
      out.push({ service, revision, codeClass, count });
    }
    return out;
  }
}
