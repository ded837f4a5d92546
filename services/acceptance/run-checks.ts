// The acceptance job's logic: wait for the target, run this task's shard of the declarative
// checks against it, and report each check's verdict. No process globals: all comes in `deps`.
import type { AcceptanceCheck } from '../shared/checks.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  status: number | null;
  latencyMs: number;
  failures: string[];
}

export interface RunDeps {
  fetch: typeof fetch;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** An ID token for the target (Google), or undefined (local cloud). */
  token?: () => Promise<string | undefined>;
}

/** Checks of task `index` out of `count`: every count-th check, so shards differ by at most one. */
export function shard<T>(checks: T[], index: number, count: number): T[] {
  return checks.filter((_, i) => i % count === index);
}

/** Waits until the target answers any HTTP status, or gives up after `timeoutMs`. */
export async function waitForTarget(
  url: string,
  timeoutMs: number,
  deps: RunDeps,
): Promise<boolean> {
  const until = deps.now() + timeoutMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      const res = await deps.fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer().catch(() => undefined);
      return true;
    } catch {
      if (deps.now() + delay > until) return false;
      await deps.sleep(delay);
    }
  }
}

/** The value at a simple path (`a.b[0].c`) of a JSON document, or undefined. */
export function pick(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const key = part.startsWith('[') ? Number(part.slice(1, -1)) : part;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function runCheck(
  base: string,
  check: AcceptanceCheck,
  deps: RunDeps,
): Promise<CheckResult> {
  const { request, expect } = check;
  const failures: string[] = [];
  const headers: Record<string, string> = { ...request.headers };
  const token = await deps.token?.();
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (request.body !== undefined) {
    body = typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
    if (typeof request.body !== 'string') headers['content-type'] ??= 'application/json';
  }
  const t0 = deps.now();
  let res: Response;
  try {
    res = await deps.fetch(new URL(request.path, base), {
      method: request.method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(request.timeoutMs),
      redirect: 'manual',
    });
  } catch (err) {
    return {
      name: check.name,
      ok: false,
      status: null,
      latencyMs: deps.now() - t0,
      failures: [`request failed: ${(err as Error).message}`],
    };
  }
  const buf = Buffer.from(await res.arrayBuffer());
  const latencyMs = deps.now() - t0;
  const text = buf.subarray(0, MAX_BODY_BYTES).toString('utf8');
  const statuses = Array.isArray(expect.status) ? expect.status : [expect.status];
  if (!statuses.includes(res.status))
    failures.push(`status ${res.status}, expected ${statuses.join(' or ')}`);
  for (const [name, want] of Object.entries(expect.headers ?? {})) {
    const got = res.headers.get(name);
    // Header values match by prefix, so `application/json` accepts `application/json; charset=utf-8`.
    if (got === null || !got.toLowerCase().startsWith(want.toLowerCase()))
      failures.push(`header ${name} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  }
  if (expect.json) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      failures.push('body is not JSON');
    }
    if (doc !== undefined) {
      for (const [path, want] of Object.entries(expect.json)) {
        const got = pick(doc, path);
        if (JSON.stringify(got) !== JSON.stringify(want))
          failures.push(`json ${path} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
      }
    }
  }
  if (expect.bodyContains !== undefined && !text.includes(expect.bodyContains))
    failures.push(`body does not contain ${JSON.stringify(expect.bodyContains)}`);
  if (expect.maxLatencyMs !== undefined && latencyMs > expect.maxLatencyMs)
    failures.push(`took ${latencyMs} ms, budget ${expect.maxLatencyMs} ms`);
  return { name: check.name, ok: failures.length === 0, status: res.status, latencyMs, failures };
}

/** A table a person reads in the job's logs. */
export function renderResults(results: CheckResult[]): string {
  const rows = results.map((r) => [
    r.ok ? 'PASS' : 'FAIL',
    r.name,
    r.status === null ? '-' : String(r.status),
    `${r.latencyMs} ms`,
    r.failures.join('; '),
  ]);
  const widths = [4, ...[1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length), 5))];
  return rows
    .map((row) =>
      row
        .map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
