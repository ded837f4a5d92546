// The acceptance Cloud Run Job: tests TARGET_URL with the pipeline's checks; exit code is the verdict.
// Env: TARGET_URL, RUNWAY_CHECKS (JSON) or RUNWAY_CHECKS_FILE, RUNWAY_TEST_COMMAND (optional),
// CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT (sharding), RUNWAY_WAIT_SECONDS (default 60).
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { acceptanceChecksSchema } from '../shared/checks.ts';
import { createLogger } from '../shared/logger.ts';
import { describeZodError } from '../shared/validation.ts';
import { type RunDeps, renderResults, runCheck, shard, waitForTarget } from './run-checks.ts';

/**
 * On Google the staging service is private: fetch an ID token for it from the metadata server,
 * at GCE_METADATA_HOST when set (as google-auth-library does; the local cloud sets it).
 */
function metadataToken(audience: string, host: string): () => Promise<string | undefined> {
  return async () => {
    const url = `http://${host}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(audience)}`;
    const res = await fetch(url, {
      headers: { 'Metadata-Flavor': 'Google' },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`metadata server answered ${res.status} for an ID token`);
    return res.text();
  };
}

export async function main(
  env: NodeJS.ProcessEnv,
  out: { write(line: string): unknown } = process.stdout,
): Promise<number> {
  const log = createLogger({
    stream: out,
    fields: {
      job: env.CLOUD_RUN_JOB,
      execution: env.CLOUD_RUN_EXECUTION,
      task: env.CLOUD_RUN_TASK_INDEX,
    },
  });
  const target = env.TARGET_URL;
  if (!target || !/^https?:\/\//.test(target)) {
    log.error('TARGET_URL must be an http(s) URL', { target: target ?? null });
    return 2;
  }
  let raw: unknown = [];
  try {
    if (env.RUNWAY_CHECKS) raw = JSON.parse(env.RUNWAY_CHECKS);
    else if (env.RUNWAY_CHECKS_FILE)
      raw = JSON.parse(await readFile(env.RUNWAY_CHECKS_FILE, 'utf8'));
  } catch (err) {
    log.error(`the checks are not valid JSON: ${(err as Error).message}`);
    return 2;
  }
  const parsed = acceptanceChecksSchema.safeParse(raw);
  if (!parsed.success) {
    log.error(`invalid checks: ${describeZodError(parsed.error)}`);
    return 2;
  }
  const index = Number(env.CLOUD_RUN_TASK_INDEX ?? 0);
  const count = Math.max(1, Number(env.CLOUD_RUN_TASK_COUNT ?? 1));
  const onGoogle = Boolean(env.CLOUD_RUN_JOB) && env.RUNWAY_LOCAL !== '1';
  const deps: RunDeps = {
    fetch,
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...(onGoogle
      ? {
          token: metadataToken(
            new URL(target).origin,
            env.GCE_METADATA_HOST || 'metadata.google.internal',
          ),
        }
      : {}),
  };
  if (!(await waitForTarget(target, Number(env.RUNWAY_WAIT_SECONDS ?? 60) * 1000, deps))) {
    log.error(`target ${target} did not answer`);
    return 1;
  }
  const mine = shard(parsed.data, index, count);
  const results = [];
  for (const check of mine) {
    const r = await runCheck(target, check, deps);
    results.push(r);
    (r.ok ? log.info : log.error)(`check ${r.ok ? 'passed' : 'failed'}: ${r.name}`, { check: r });
  }
  if (results.length) out.write(`${renderResults(results)}\n`);
  let failed = results.filter((r) => !r.ok).length;
  if (env.RUNWAY_TEST_COMMAND && index === 0) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(env.RUNWAY_TEST_COMMAND!, {
        shell: true,
        stdio: 'inherit',
        env: { ...env, TARGET_URL: target },
      });
      child.on('exit', (c) => resolve(c ?? 1));
      child.on('error', () => resolve(127));
    });
    log[code === 0 ? 'info' : 'error'](`test command exited ${code}`);
    if (code !== 0) failed++;
  }
  log[failed ? 'error' : 'info'](
    `${mine.length - results.filter((r) => !r.ok).length}/${mine.length} checks passed in task ${index} of ${count}`,
  );
  return failed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.RUNWAY_ACCEPTANCE_MAIN === '1') {
  main(process.env).then((code) => process.exit(code));
}
