// The local cloud's allow policy: bindings of a principal to a role on a resource, inherited from
// the project down to every resource under it, and the check every local API call makes. A check
// is a few Map and Set lookups (bindings indexed by principal and resource, each role's
// permissions a Set): microseconds. Each call that a binding allowed is recorded, so the grants
// no call used can be listed. No deny policies, no conditions, no groups: see README.
import { RunwayError } from '../../services/shared/errors.ts';
import {
  checksFor,
  denialDomain,
  methodRule,
  type RequestFlags,
  requiredPermissions,
  type Target,
} from './methods.ts';
import { predefinedRoles, type RoleTable } from './roles.ts';

export interface Binding {
  /** `user:EMAIL`, `serviceAccount:EMAIL`, `allUsers`, `allAuthenticatedUsers`, `principal…`. */
  principal: string;
  role: string;
  /** A resource name: `projects/P`, `projects/P/locations/L/services/S`, `projects/-/serviceAccounts/EMAIL`… */
  resource: string;
  /** Where the grant comes from: `FILE:LINE ADDRESS` for Terraform, or who added it. */
  source?: string;
}

export interface PolicyOptions {
  /** The project resources without one in their name belong to (buckets, accounts not of it). */
  project: string;
  /** Its number, so `projects/NUMBER/…` names the same project. */
  projectNumber?: string;
  roles?: RoleTable;
}

export type Decision = { allowed: true; binding: Binding } | { allowed: false; error: RunwayError };

export interface UnusedGrant {
  binding: Binding;
  /** False when the role grants no permission any local method asks for (logging, say). */
  checkable: boolean;
}

/** The resources a request names, by the target a method's checks refer to (methods.ts). */
export type RequestResources = Partial<Record<Target, string>> & { resource: string };

const PRINCIPAL =
  /^(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount|deleted:group|projectOwner|projectEditor|projectViewer):[^\s]+$|^(allUsers|allAuthenticatedUsers)$|^principal(Set)?:\/\/[^\s]+$/;

/** Cloud Storage's convenience principals: whoever holds the basic role on the project. */
const CONVENIENCE = [
  ['projectOwner', 'roles/owner'],
  ['projectEditor', 'roles/editor'],
  ['projectViewer', 'roles/viewer'],
] as const;

/**
 * The policy Cloud Storage gives a new bucket with uniform bucket-level access: the project's
 * owners and editors own it and its objects, its viewers read them. The basic roles themselves
 * grant no object access; this is how a project owner reads a bucket on Google.
 */
export function defaultBucketBindings(bucket: string, project: string): Binding[] {
  const resource = `projects/_/buckets/${bucket}`;
  const source = `Cloud Storage's default policy of ${bucket}`;
  return [
    ['projectOwner', 'roles/storage.legacyBucketOwner'],
    ['projectEditor', 'roles/storage.legacyBucketOwner'],
    ['projectViewer', 'roles/storage.legacyBucketReader'],
    ['projectOwner', 'roles/storage.legacyObjectOwner'],
    ['projectEditor', 'roles/storage.legacyObjectOwner'],
    ['projectViewer', 'roles/storage.legacyObjectReader'],
  ].map(([who, role]) => ({ principal: `${who}:${project}`, role: role!, resource, source }));
}

/** Google's denial: 403 PERMISSION_DENIED naming the permission and the resource. */
export function permissionDenied(
  permission: string,
  resource: string,
  service?: string,
): RunwayError {
  return new RunwayError(
    'PERMISSION_DENIED',
    `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`,
    {
      info: {
        reason: 'IAM_PERMISSION_DENIED',
        domain: denialDomain(service, permission),
        metadata: { permission, resource },
      },
    },
  );
}

/** A service account's resource name, as IAM Credentials and act-as checks name it. */
export function serviceAccountResource(email: string): string {
  return `projects/-/serviceAccounts/${email.toLowerCase()}`;
}

export class Policy {
  readonly #options: PolicyOptions;
  readonly #roles: RoleTable;
  readonly #bindings: Binding[] = [];
  /** principal -> canonical resource -> bindings there. */
  readonly #index = new Map<string, Map<string, Binding[]>>();
  /** binding -> the permissions it granted to some call. */
  readonly #used = new Map<Binding, Set<string>>();
  readonly #ancestors = new Map<string, readonly string[]>();
  /** Whether any binding names a convenience principal (projectOwner:P…). */
  #convenience = false;

  constructor(bindings: readonly Binding[], options: PolicyOptions) {
    this.#options = options;
    this.#roles = options.roles ?? predefinedRoles;
    for (const b of bindings) this.add(b);
  }

  /** Adds a grant; an unknown role or a malformed principal is refused, never ignored. */
  add(binding: Binding): void {
    if (!PRINCIPAL.test(binding.principal)) {
      throw new RunwayError(
        'INVALID_ARGUMENT',
        `${binding.source ?? 'a binding'}: ${JSON.stringify(binding.principal)} is not a principal (user:EMAIL, serviceAccount:EMAIL, allUsers…)`,
      );
    }
    this.#roles.permissions(binding.role);
    const resource = this.canonical(binding.resource);
    const byResource = this.#index.get(binding.principal) ?? new Map<string, Binding[]>();
    this.#index.set(binding.principal, byResource);
    const there = byResource.get(resource) ?? [];
    byResource.set(resource, there);
    if (there.some((b) => b.role === binding.role)) return;
    there.push(binding);
    this.#bindings.push(binding);
    if (/^project(Owner|Editor|Viewer):/.test(binding.principal)) this.#convenience = true;
  }

  bindings(): readonly Binding[] {
    return this.#bindings;
  }

  /**
   * Whether `principal` (undefined: an unauthenticated caller) holds `permission` on `resource`
   * or on one of its ancestors. `service` names the API, for the denial's ErrorInfo domain.
   */
  check(
    principal: string | undefined,
    permission: string,
    resource: string,
    service?: string,
  ): Decision {
    const binding = this.#find(principal, permission, resource);
    if (binding) {
      const perms = this.#used.get(binding);
      if (perms) perms.add(permission);
      else this.#used.set(binding, new Set([permission]));
      return { allowed: true, binding };
    }
    return { allowed: false, error: permissionDenied(permission, resource, service) };
  }

  /** Throws the denial if `check` refuses. */
  require(
    principal: string | undefined,
    permission: string,
    resource: string,
    service?: string,
  ): void {
    const d = this.check(principal, permission, resource, service);
    if (!d.allowed) throw d.error;
  }

  /** Whether `principal` may act as the service account `email` (deploy or run as it). */
  actAs(principal: string | undefined, email: string): Decision {
    return this.check(principal, 'iam.serviceAccounts.actAs', serviceAccountResource(email));
  }

  /**
   * Every check `method` of `service` makes (methods.ts), on the resources the request names;
   * throws the first denial. A check on a target the request does not name: `serviceAccount`
   * is skipped (nothing to act as), `project` comes from the resource's name, `parent` from
   * cutting the resource's last collection off; any other is a wiring error.
   */
  authorize(
    principal: string | undefined,
    service: string,
    method: string,
    resources: RequestResources,
    flags: RequestFlags = {},
  ): void {
    for (const c of checksFor(methodRule(service, method), flags)) {
      const on = this.#target(c.on, resources);
      if (on === undefined) {
        if (c.on === 'serviceAccount') continue;
        throw new Error(
          `IAM: ${service} ${method} checks ${c.permission} on its ${c.on}, which the caller did not name`,
        );
      }
      this.require(principal, c.permission, on, service);
    }
  }

  /** The grants no allowed call used, in the order they were added. */
  unused(): UnusedGrant[] {
    const needed = requiredPermissions();
    return this.#bindings
      .filter((b) => !this.#used.has(b))
      .map((binding) => ({
        binding,
        checkable: [...this.#roles.permissions(binding.role)].some((p) => needed.has(p)),
      }));
  }

  /** The grants that allowed some call, with the permissions they granted. */
  used(): { binding: Binding; permissions: string[] }[] {
    return [...this.#used].map(([binding, p]) => ({ binding, permissions: [...p].sort() }));
  }

  #find(principal: string | undefined, permission: string, resource: string): Binding | undefined {
    const who = principal ? [principal, 'allAuthenticatedUsers', 'allUsers'] : ['allUsers'];
    const chain = this.#chain(resource);
    if (principal && this.#convenience) who.push(...this.#conveniences(principal, chain.at(-1)!));
    for (const at of chain) {
      for (const p of who) {
        const there = this.#index.get(p)?.get(at);
        if (!there) continue;
        for (const b of there) if (this.#roles.permissions(b.role).has(permission)) return b;
      }
    }
    return undefined;
  }

  /** The convenience principals `principal` counts as: projectOwner:P if it owns P, and so on. */
  #conveniences(principal: string, project: string): string[] {
    const there = this.#index.get(principal)?.get(project);
    if (!there) return [];
    const id = project.slice('projects/'.length);
    return CONVENIENCE.filter(([, role]) => there.some((b) => b.role === role)).map(
      ([who]) => `${who}:${id}`,
    );
  }

  #target(target: Target, r: RequestResources): string | undefined {
    const given = r[target];
    if (given !== undefined) return given;
    if (target === 'project') return this.#chain(r.resource).at(-1);
    if (target === 'parent') return parentOf(r.resource);
    return undefined;
  }

  /** The resource and its ancestors, most specific first, ending with its project. */
  #chain(resource: string): readonly string[] {
    let chain = this.#ancestors.get(resource);
    if (chain) return chain;
    chain = this.#computeChain(this.canonical(resource));
    // Bounded: resource names come from requests.
    if (this.#ancestors.size > 10_000) this.#ancestors.clear();
    this.#ancestors.set(resource, chain);
    return chain;
  }

  #computeChain(name: string): string[] {
    const s = name.split('/');
    if (s[0] !== 'projects' || s.length < 2) return [name];
    let project = s[1]!;
    if (project === '-' || project === '_') {
      // A service account's project is in its email; a bucket's, and any other, is the local one.
      const email = s[2] === 'serviceAccounts' ? s[3] : undefined;
      project =
        /@([a-z][a-z0-9-]*)\.iam\.gserviceaccount\.com$/.exec(email ?? '')?.[1] ??
        this.#options.project;
    }
    const out: string[] = [];
    for (let i = s.length - (s.length % 2); i >= 4; i -= 2) out.push(s.slice(0, i).join('/'));
    if (s.length % 2 === 1 && s.length > 2) out.unshift(name);
    out.push(`projects/${project}`);
    return out;
  }

  /**
   * One spelling per resource: no `//SERVICE/` prefix, the project's id for its number, service
   * accounts under `projects/-` (their email names them), lower-case emails.
   */
  canonical(resource: string): string {
    let r = resource.replace(/^\/\/[a-z0-9.-]+\//, '');
    const { project, projectNumber } = this.#options;
    if (projectNumber && r.startsWith(`projects/${projectNumber}`)) {
      const rest = r.slice(`projects/${projectNumber}`.length);
      if (rest === '' || rest.startsWith('/')) r = `projects/${project}${rest}`;
    }
    const sa = /^projects\/[^/]+\/serviceAccounts\/([^/]+)$/.exec(r);
    if (sa) return serviceAccountResource(sa[1]!);
    return r;
  }
}

/** `projects/P/locations/L/services/S` -> `projects/P/locations/L`. */
export function parentOf(resource: string): string {
  const s = resource.split('/');
  return s.length > 2 ? s.slice(0, s.length - 2).join('/') : resource;
}
