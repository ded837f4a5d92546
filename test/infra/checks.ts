// Static checks of infra/ (Terraform parsed with @cdktf/hcl2json, no provider needed) and of
// cloudbuild.yaml. Each check returns human-readable violations; the tests assert there are none
// in the repository and that each check catches a bad snippet.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';

// Required untyped on purpose: the package's typings reference the DOM lib, whose fetch and
// Headers types would then clash with Node's across the whole program.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse(file: string, text: string): Promise<unknown>;
};

type Json = Record<string, unknown>;

export interface Resource {
  file: string;
  type: string;
  name: string;
  body: Json;
}

export async function parseHcl(file: string, text: string): Promise<Json> {
  return (await parse(file, text)) as Json;
}

/** Every .tf under `dir`, parsed. */
export async function parseTree(dir: string): Promise<{ file: string; doc: Json }[]> {
  const out: { file: string; doc: Json }[] = [];
  for (const entry of (await readdir(dir, { recursive: true })).map(String).sort()) {
    if (!entry.endsWith('.tf')) continue;
    const path = join(dir, entry);
    out.push({
      file: relative(dir, path),
      doc: await parseHcl(path, await readFile(path, 'utf8')),
    });
  }
  return out;
}

export function resources(docs: { file: string; doc: Json }[]): Resource[] {
  const out: Resource[] = [];
  for (const { file, doc } of docs) {
    for (const [type, byName] of Object.entries((doc.resource ?? {}) as Record<string, Json>)) {
      for (const [name, bodies] of Object.entries(byName)) {
        for (const body of bodies as Json[]) out.push({ file, type, name, body });
      }
    }
  }
  return out;
}

const first = (v: unknown): Json | undefined => (Array.isArray(v) ? (v[0] as Json) : (v as Json));
const where = (r: Resource) => `${r.file}: ${r.type}.${r.name}`;

/** The account a member names: `serviceAccount:${var.accounts.NAME}` or `...emails.NAME`. */
export function accountOf(member: unknown): string | undefined {
  return /serviceAccount:\$\{(?:var\.accounts|module\.identities\.emails)\.(\w+)\}/.exec(
    String(member),
  )?.[1];
}

const IAM = /_iam_(member|binding)$/;

export function checkNoBroadRoles(rs: Resource[]): string[] {
  return rs
    .filter((r) => ['roles/owner', 'roles/editor'].includes(String(r.body.role)))
    .map((r) => `${where(r)} grants ${r.body.role}`);
}

/**
 * The opt-in public grants: `live_public` (var.region's live service) and `live_public_regional`
 * (the other regions'), each on a live service of the pipeline module and nothing else.
 */
const onLiveService = (r: Resource) =>
  ['live_public', 'live_public_regional'].includes(r.name) &&
  /google_cloud_run_v2_service\.live(_regional)?\b/.test(
    JSON.stringify([r.body.name, r.body.for_each]),
  ) &&
  !/staging/.test(JSON.stringify([r.body.name, r.body.for_each]));

export function checkNotPublic(rs: Resource[]): string[] {
  return rs
    .filter((r) => IAM.test(r.type))
    .filter((r) =>
      /allUsers|allAuthenticatedUsers/.test(JSON.stringify([r.body.member, r.body.members])),
    )
    .filter((r) => !onLiveService(r))
    .map(
      (r) =>
        `${where(r)} makes a resource public (only a pipeline's live service may be, by choice)`,
    );
}

export function checkNoKeys(rs: Resource[]): string[] {
  return rs
    .filter((r) => r.type === 'google_service_account_key')
    .map((r) => `${where(r)} creates a service account key; use Workload Identity Federation`);
}

export function checkPushSubscriptions(rs: Resource[]): string[] {
  const out: string[] = [];
  for (const r of rs.filter((x) => x.type === 'google_pubsub_subscription')) {
    const push = first(r.body.push_config);
    if (!push) continue;
    const oidc = first(push.oidc_token);
    if (!oidc?.service_account_email || !oidc.audience) {
      out.push(`${where(r)} pushes without an OIDC token (service_account_email and audience)`);
    }
    const dlq = first(r.body.dead_letter_policy);
    if (!dlq?.dead_letter_topic || !dlq.max_delivery_attempts) {
      out.push(`${where(r)} has no dead-letter policy with max_delivery_attempts`);
    }
    if (!first(r.body.retry_policy)) out.push(`${where(r)} has no retry policy with backoff`);
  }
  return out;
}

/** Each account may hold only the roles listed for it, wherever it is granted them. */
export function checkAccountRoles(rs: Resource[], allowed: Record<string, string[]>): string[] {
  const out: string[] = [];
  for (const r of rs.filter((x) => IAM.test(x.type))) {
    const account = accountOf(r.body.member);
    if (!account) continue;
    const roles = allowed[account];
    if (!roles) out.push(`${where(r)} grants ${r.body.role} to ${account}, which has no role list`);
    else if (!roles.includes(String(r.body.role))) {
      out.push(
        `${where(r)} grants ${r.body.role} to ${account}; it may hold only ${roles.join(', ')}`,
      );
    }
  }
  return out;
}

/** The roles granted to `account`, with the resource they are granted on and the grant's type. */
export function grantsOf(
  rs: Resource[],
  account: string,
): { role: string; on: string; type: string }[] {
  return rs
    .filter((r) => IAM.test(r.type) && accountOf(r.body.member) === account)
    .map((r) => ({
      role: String(r.body.role),
      on: JSON.stringify(
        r.body.for_each ??
          r.body.name ??
          r.body.service_account_id ??
          r.body.bucket ??
          r.body.project,
      ),
      type: r.type,
    }));
}

/** Storage roles are granted on a bucket, never on the project (where they reach every bucket). */
export function checkStorageOnBuckets(rs: Resource[]): string[] {
  return rs
    .filter((r) => IAM.test(r.type) && String(r.body.role).startsWith('roles/storage.'))
    .filter((r) => r.type !== 'google_storage_bucket_iam_member')
    .map((r) => `${where(r)} grants ${r.body.role} beyond one bucket`);
}

export interface CloudBuildStep {
  id?: string;
  name?: string;
  args?: unknown[];
  entrypoint?: string;
  env?: string[];
  script?: string;
  dir?: string;
}

export interface CloudBuildDoc {
  substitutions?: Record<string, string>;
  options?: { substitutionOption?: string; dynamicSubstitutions?: boolean; logging?: string };
  serviceAccount?: string;
  steps?: CloudBuildStep[];
}

export function checkCloudBuild(doc: CloudBuildDoc): string[] {
  const out: string[] = [];
  const steps = doc.steps ?? [];
  // A step's words with the file's own substitutions filled in (the test step runs ${_TEST_COMMAND}).
  const subs = doc.substitutions ?? {};
  const text = (s: (typeof steps)[number]) =>
    `${s.entrypoint ?? ''} ${(s.args ?? []).join(' ')}`.replace(
      /\$\{(_[A-Z0-9_]+)\}/g,
      (m, k: string) => subs[k] ?? m,
    );
  const test = steps.findIndex((s) => /\bnpm\b/.test(text(s)) && /\btest\b/.test(text(s)));
  const builds = steps.map((s, i) => ({ s, i })).filter(({ s }) => (s.args ?? [])[0] === 'build');
  if (test < 0) out.push('cloudbuild.yaml runs no tests');
  if (builds.length === 0) out.push('cloudbuild.yaml builds no image');
  for (const { s, i } of builds) {
    if (test < 0 || i < test) out.push(`step ${s.id ?? i} builds before the tests ran`);
    const tag = (s.args ?? [])[(s.args ?? []).indexOf('-t') + 1];
    if (!String(tag).includes('${COMMIT_SHA}'))
      out.push(`step ${s.id ?? i} tags ${tag}, not the commit`);
  }
  for (const s of steps) {
    const t = text(s);
    if (/run (services|jobs) update|run deploy/.test(t) && !/@/.test(t)) {
      out.push(`step ${s.id} deploys an image that is not pinned by digest`);
    }
    if (/workflows deploy/.test(t) && !/--service-account/.test(t)) {
      out.push(`step ${s.id} deploys the workflow without its own service account`);
    }
  }
  return out;
}

// Cloud Build's default substitutions: for every build, and only for trigger builds (empty
// otherwise, as with `gcloud builds submit`). cloud.google.com/build/docs/configuring-builds/substitute-variable-values
const ALWAYS = ['PROJECT_ID', 'BUILD_ID', 'PROJECT_NUMBER', 'LOCATION'];
export const TRIGGER_ONLY = [
  'TRIGGER_NAME',
  'COMMIT_SHA',
  'REVISION_ID',
  'SHORT_SHA',
  'REPO_NAME',
  'REPO_FULL_NAME',
  'BRANCH_NAME',
  'TAG_NAME',
  'REF_NAME',
  'TRIGGER_BUILD_CONFIG_PATH',
  'SERVICE_ACCOUNT_EMAIL',
  'SERVICE_ACCOUNT',
];

// `$$` is a literal `$`; `$NAME` and `${NAME}` are substitutions.
const REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** The substitution names a text refers to. */
export function substitutionRefs(text: string): string[] {
  return [...text.matchAll(REF)].flatMap((m) => ((m[1] ?? m[2]) ? [(m[1] ?? m[2]) as string] : []));
}

/** The text as Cloud Build hands it to the step: `$$` becomes `$`, unknown names become ''. */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(REF, (all, braced?: string, bare?: string) =>
    all === '$$' ? '$' : (values[(braced ?? bare) as string] ?? ''),
  );
}

const stepText = (s: CloudBuildStep) =>
  [s.name, s.entrypoint, s.dir, s.script, ...(s.args ?? []), ...(s.env ?? [])]
    .filter((x) => x !== undefined)
    .join(' ');

/**
 * Substitutions Cloud Build accepts: every `_X` used has a default; a passed key the steps do not
 * use directly (only inside another substitution) needs ALLOW_LOOSE, since Cloud Build's default
 * MUST_MATCH rejects it; names without `_` are Cloud Build's own; serviceAccount takes none.
 */
export function checkSubstitutions(doc: CloudBuildDoc): string[] {
  const out: string[] = [];
  const defined = doc.substitutions ?? {};
  const inSteps = new Set((doc.steps ?? []).flatMap((s) => substitutionRefs(stepText(s))));
  const inValues = new Set(Object.values(defined).flatMap((v) => substitutionRefs(String(v))));
  const loose = doc.options?.substitutionOption === 'ALLOW_LOOSE';
  for (const name of new Set([...inSteps, ...inValues])) {
    if (name.startsWith('_')) {
      if (!(name in defined)) out.push(`\${${name}} is used but has no default in substitutions`);
    } else if (!ALWAYS.includes(name) && !TRIGGER_ONLY.includes(name)) {
      out.push(`\${${name}} is not a Cloud Build default substitution (user keys start with _)`);
    }
  }
  for (const name of Object.keys(defined)) {
    if (!name.startsWith('_')) out.push(`substitution ${name} must start with _`);
    if (!inSteps.has(name) && !loose) {
      out.push(
        `${name} is not used directly by any step; Cloud Build rejects it when passed unless options.substitutionOption is ALLOW_LOOSE`,
      );
    }
  }
  if (Object.values(defined).some((v) => substitutionRefs(String(v)).length > 0)) {
    if (!doc.options?.dynamicSubstitutions) {
      out.push('substitutions refer to others without options.dynamicSubstitutions');
    }
  }
  if (doc.serviceAccount !== undefined && substitutionRefs(doc.serviceAccount).length > 0) {
    out.push(
      `serviceAccount uses substitutions (${doc.serviceAccount}); Cloud Build substitutes only in steps and images: pass --service-account to gcloud builds submit or write a literal`,
    );
  }
  return out;
}

/** A trigger-only substitution the steps use is checked by the first step, before any work. */
export function checkTriggerOnlyGuard(doc: CloudBuildDoc): string[] {
  const [guard, ...rest] = doc.steps ?? [];
  const used = new Set(rest.flatMap((s) => substitutionRefs(stepText(s))));
  const checked = new Set(guard ? substitutionRefs(stepText(guard)) : []);
  return TRIGGER_ONLY.filter((name) => used.has(name) && !checked.has(name)).map(
    (name) =>
      `\${${name}} is empty outside trigger builds and no first step stops the build when it is`,
  );
}

// Provider 6.x protects these by default: terraform destroy, or removing a pipeline, fails unless
// the configuration says otherwise. Each says it explicitly.
export const DELETION_PROTECTED = [
  'google_cloud_run_v2_service',
  'google_cloud_run_v2_job',
  'google_cloud_run_v2_worker_pool',
  'google_workflows_workflow',
];

export function checkDeletionProtection(rs: Resource[]): string[] {
  return rs
    .filter((r) => DELETION_PROTECTED.includes(r.type) && r.body.deletion_protection === undefined)
    .map((r) => `${where(r)} leaves deletion_protection to the provider's default (true in 6.x)`);
}

/** Every required_providers block pins google to one major version (`~> 6.0`). */
export function checkProviderPin(docs: { file: string; doc: Json }[]): string[] {
  const out: string[] = [];
  for (const { file, doc } of docs) {
    for (const block of (doc.terraform ?? []) as Json[]) {
      for (const providers of (block.required_providers ?? []) as Json[]) {
        const google = providers.google as Json | undefined;
        if (google && google.version !== '~> 6.0') {
          out.push(`${file}: google provider version ${google.version}, not ~> 6.0`);
        }
      }
    }
  }
  return out;
}

/** The services the apis module enables, read from its `services` list. */
export function enabledApis(doc: Json): string[] {
  const [locals] = (doc.locals ?? []) as Json[];
  return [...String(locals?.services ?? '').matchAll(/"([a-z0-9.-]+\.googleapis\.com)"/g)].map(
    (m) => m[1] as string,
  );
}
