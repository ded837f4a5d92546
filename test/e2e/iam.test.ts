// Least privilege proven by running it: for each binding of infra/ the release path needs, a copy
// of the Terraform without it makes the release fail where it needed it, with Google's
// PERMISSION_DENIED naming the permission; with the binding, the same release succeeds (the demo's
// e2e suites run the shipped Terraform).
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deployerAudience, runwayAccount } from '../../local/identity/accounts.ts';
import { repoRoot } from '../../local/images.ts';
import { type Stack, startStack } from '../../local/stack.ts';
import { waitForRelease } from '../../local/watch.ts';
import { localAuthorization } from '../../services/shared/clients.ts';
import { pauseScheduledReconcile } from '../helpers/reconcile.ts';
import { runwayIn } from '../helpers/runway.ts';

const CONFIG = join(repoRoot, 'runway.yaml');
const ETL = join(repoRoot, 'test', 'fixtures', 'apps', 'etl');

interface Case {
  name: string;
  /** The module file (under infra/modules) and the resource address removed from it. */
  file: string;
  resource: string;
  /** Where the denial shows: the release's outcome, or the deployer's log (nothing starts). */
  seenIn: 'release' | 'deployer-log' | 'push';
  denied: RegExp;
  /** The pipeline released: the demo's service pipeline (default), or a job pipeline (etl). */
  pipeline?: 'job';
}

const JOB_CONFIG = `project: local-project
region: us-central1
pipelines:
  - name: etl
    image: us-central1-docker.pkg.dev/local-project/apps/etl
    kind: job
    staging: { job: etl-staging }
    live: { job: etl }
`;

const cases: Case[] = [
  {
    // One resource, for_each over staging and live: the release reads live first.
    name: "the workflow's run.developer on its services: reading or deploying them is refused",
    file: 'pipeline/main.tf',
    resource: 'google_cloud_run_v2_service_iam_member" "workflow_deploys',
    seenIn: 'release',
    denied:
      /Permission 'run\.services\.(get|update)' denied on resource 'projects\/local-project\/locations\/us-central1\/services\/sample(-staging)?'/,
  },
  {
    name: "the workflow's actAs on the app account: deploying a revision running as it is refused",
    file: 'workflow/main.tf',
    resource: 'google_service_account_iam_member" "workflow_acts_as_app',
    seenIn: 'release',
    denied:
      /Permission 'iam\.serviceAccounts\.actAs' denied on resource 'projects\/-\/serviceAccounts\/runway-app@local-project\.iam\.gserviceaccount\.com'/,
  },
  {
    name: "the workflow's jobsExecutorWithOverrides on the acceptance job: the tests cannot start",
    file: 'pipeline/main.tf',
    resource: 'google_cloud_run_v2_job_iam_member" "workflow_runs_tests',
    seenIn: 'release',
    denied:
      /Permission 'run\.jobs\.runWithOverrides' denied on resource 'projects\/local-project\/locations\/us-central1\/jobs\/sample-acceptance'/,
  },
  {
    // A job pipeline's jobs (module job-pipeline): the release reads the live job first.
    name: "the workflow's run.developer on a job pipeline's jobs: reading or updating them is refused",
    file: 'job-pipeline/main.tf',
    resource: 'google_cloud_run_v2_job_iam_member" "workflow_deploys',
    seenIn: 'release',
    pipeline: 'job',
    denied:
      /Permission 'run\.jobs\.(get|update)' denied on resource 'projects\/local-project\/locations\/us-central1\/jobs\/etl(-staging)?'/,
  },
  {
    name: "the workflow's pubsub.publisher on the events topic: its report is refused",
    file: 'events/main.tf',
    resource: 'google_pubsub_topic_iam_member" "workflow_reports',
    seenIn: 'release',
    denied:
      /Permission 'pubsub\.topics\.publish' denied on resource 'projects\/local-project\/topics\/runway-events'/,
  },
  {
    name: "the deployer's workflows.invoker: no release starts, the deployer logs the denial",
    file: 'deployer/main.tf',
    resource: 'google_project_iam_member" "deployer_starts_releases',
    seenIn: 'deployer-log',
    denied:
      /Permission 'workflows\.executions\.(list|create)' denied on resource 'projects\/local-project\/locations\/us-central1\/workflows\/runway-release'/,
  },
  {
    name: "the push account's run.invoker on the deployer: Cloud Run refuses the push",
    file: 'deployer/main.tf',
    resource: 'google_cloud_run_v2_service_iam_member" "push_invokes',
    seenIn: 'push',
    denied: /Permission 'run\.routes\.invoke' denied/,
  },
];

/** A copy of infra/ whose `file` lacks the resource block `resource`. */
async function infraWithout(c: Case, into: string): Promise<string> {
  await cp(join(repoRoot, 'infra'), join(into, 'infra'), {
    recursive: true,
    filter: (src) => !src.includes('.terraform'),
  });
  const path = join(into, 'infra', 'modules', c.file);
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(`resource "${c.resource}" {`);
  assert.ok(start >= 0, `${c.file} has no resource "${c.resource}"`);
  const end = text.indexOf('\n}\n', start);
  await writeFile(path, text.slice(0, start) + text.slice(end + 3));
  return join(into, 'infra', 'envs', 'example');
}

async function deployerLog(home: string): Promise<string> {
  const dir = join(home, 'logs', 'services', 'runway-deployer');
  let out = '';
  for (const f of await readdir(dir).catch(() => [] as string[]))
    out += await readFile(join(dir, f), 'utf8').catch(() => '');
  return out;
}

async function executions(stack: Stack): Promise<number> {
  const res = await fetch(
    `${stack.info.workflows}/v1/projects/${stack.info.project}/locations/${stack.info.region}/workflows/runway-release/executions?pageSize=1000`,
    { headers: localAuthorization },
  );
  return ((await res.json()) as { executions?: unknown[] }).executions?.length ?? 0;
}

describe('a binding the release path needs, removed from infra/, fails the release naming it', () => {
  const sample = join(repoRoot, 'services', 'sample-app');
  for (const c of cases) {
    describe(c.name, () => {
      let stack: Stack;
      let tmp: string;
      before(async () => {
        tmp = await mkdtemp(join(tmpdir(), 'runway-iam-e2e-'));
        const infra = await infraWithout(c, tmp);
        let config = CONFIG;
        if (c.pipeline === 'job') {
          config = join(tmp, 'runway.yaml');
          await writeFile(config, JOB_CONFIG);
        }
        stack = await startStack({ config, home: join(tmp, 'home'), timeScale: 20, infra });
        await pauseScheduledReconcile(stack.info);
      });
      after(async () => {
        await stack?.close();
        await rm(tmp, { recursive: true, force: true });
      });

      test('the release fails with PERMISSION_DENIED naming the permission', async () => {
        const pipeline = stack.config.pipelines[0]!;
        let app = sample;
        if (c.pipeline === 'job') {
          app = join(tmp, 'etl');
          await cp(ETL, app, { recursive: true });
          await writeFile(join(app, 'mode'), 'ok v1\n');
        }
        const pushed = await stack.registry.push(app, `${pipeline.image}:v1`);
        if (c.seenIn === 'release') {
          const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 180_000 });
          assert.notEqual(run.result?.outcome, 'PROMOTED');
          assert.match(JSON.stringify(run), c.denied);
          // `runway status` says why, naming the permission.
          const status = await runwayIn(() => join(tmp, 'home'))(['status']);
          assert.equal(status.code, 0, status.stderr);
          assert.match(status.stdout, c.denied);
          return;
        }
        if (c.seenIn === 'deployer-log') {
          const deadline = Date.now() + 60_000;
          while (!c.denied.test(await deployerLog(join(tmp, 'home')))) {
            assert.ok(Date.now() < deadline, 'the deployer never logged the denial');
            await new Promise((r) => setTimeout(r, 200));
          }
          assert.equal(await executions(stack), 0);
          return;
        }
        // Pub/Sub's push is refused by Cloud Run before the deployer sees it: nothing starts.
        // The same push, as the push account signs it, shows Cloud Run's answer.
        const token = stack.identity!.sign(
          runwayAccount(stack.info.project, 'push'),
          deployerAudience(stack.info.project),
        );
        const res = await fetch(`${stack.info.deployer}/pubsub/artifact-registry`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
        });
        assert.equal(res.status, 403);
        assert.match(await res.text(), c.denied);
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(await executions(stack), 0);
      });
    });
  }
});

describe('with the shipped Terraform: the release succeeds, and the grants nothing used are listed', () => {
  let stack: Stack;
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'runway-iam-e2e-'));
    stack = await startStack({ config: CONFIG, home: join(tmp, 'home'), timeScale: 20 });
    await pauseScheduledReconcile(stack.info);
  });
  after(async () => {
    await stack?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test("v1 is promoted; the CI account's grants are unused, the workflow's deploy grant is not", async () => {
    const pipeline = stack.config.pipelines[0]!;
    const pushed = await stack.registry.push(
      join(repoRoot, 'services', 'sample-app'),
      `${pipeline.image}:v1`,
    );
    const run = await waitForRelease(stack.info, pushed.digest, { timeoutMs: 180_000 });
    assert.equal(run.result?.outcome, 'PROMOTED', JSON.stringify(run));
    assert.ok(stack.info.iam, 'stack.json names the IAM usage endpoint');
    const { unused } = (await (await fetch(`${stack.info.iam}/unused`)).json()) as {
      unused: { binding: { principal: string; role: string; resource: string; source?: string } }[];
    };
    const named = unused.map(
      (u) => `${u.binding.principal} ${u.binding.role} ${u.binding.resource}`,
    );
    const ci = `serviceAccount:runway-ci@${stack.info.project}.iam.gserviceaccount.com`;
    assert.ok(
      named.some((n) => n.startsWith(`${ci} roles/artifactregistry.writer`)),
      named.join('\n'),
    );
    const workflow = `serviceAccount:${runwayAccount(stack.info.project, 'workflow')}`;
    assert.ok(
      !named.some(
        (n) => n.startsWith(`${workflow} roles/run.developer`) && n.endsWith('/sample-staging'),
      ),
      named.join('\n'),
    );
    assert.ok(
      !named.some((n) =>
        n.startsWith(
          `serviceAccount:${runwayAccount(stack.info.project, 'push')} roles/run.invoker`,
        ),
      ),
    );
  });

  test('runway status as the local user reads the stack; as a user with no grant it is refused', async () => {
    const runway = runwayIn(() => join(tmp, 'home'));
    const mine = await runway(['status']);
    assert.equal(mine.code, 0, mine.stderr);
    const nobody = await runway(['status', '--as', 'user:nobody@example.com']);
    assert.equal(nobody.code, 1, nobody.stdout);
    assert.match(
      nobody.stderr,
      /^runway status: PERMISSION_DENIED: Permission '(run\.services|workflows\.executions)\.list' denied on resource 'projects\/local-project\/locations\/us-central1(\/workflows\/runway-release)?' \(or it may not exist\)\./,
    );
  });
});
