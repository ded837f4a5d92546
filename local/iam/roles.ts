// Google's predefined roles, each with the permissions it holds on the services the local cloud
// serves. roles.generated.json is written by scripts/gen-iam-roles.mjs from the role definitions
// IAM's roles.get answers (the predefined-roles reference lists the same); owner, editor and
// viewer are Google's own lists cut to those services, not rules of thumb. A permission of a
// service the local cloud does not serve is left out: no local method asks for it.
import { createRequire } from 'node:module';
import { invalidArgument } from '../../services/shared/errors.ts';

export interface RoleDefinition {
  title: string;
  permissions: readonly string[];
}

interface RolesFile {
  /** The pattern of permissions kept (a RegExp source). */
  served: string;
  roles: Record<string, RoleDefinition>;
}

let file: RolesFile | undefined;
const load = (): RolesFile =>
  (file ??= createRequire(import.meta.url)('./roles.generated.json') as RolesFile);

/** Whether a permission belongs to a service the local cloud serves (and so to the role table). */
export function isServedPermission(permission: string): boolean {
  return new RegExp(load().served).test(permission);
}

/** A role's permissions as a Set, made once per role: a check is then one Set lookup. */
export class RoleTable {
  readonly #sets = new Map<string, ReadonlySet<string>>();
  readonly #custom = new Map<string, RoleDefinition>();

  /** A role of the project's own (projects/P/roles/NAME), or one this table lacks. */
  define(name: string, definition: RoleDefinition): void {
    if (
      !/^(roles|projects\/[^/]+\/roles|organizations\/[^/]+\/roles)\/[A-Za-z0-9_.]+$/.test(name)
    ) {
      throw invalidArgument(
        `Role ${name} is not a role name (roles/NAME or projects/P/roles/NAME)`,
      );
    }
    this.#custom.set(name, definition);
    this.#sets.delete(name);
  }

  has(name: string): boolean {
    return this.#custom.has(name) || Object.hasOwn(load().roles, name);
  }

  get(name: string): RoleDefinition | undefined {
    return (
      this.#custom.get(name) ?? (Object.hasOwn(load().roles, name) ? load().roles[name] : undefined)
    );
  }

  /** The role's permissions; an unknown role is an error naming it, never an empty grant. */
  permissions(name: string): ReadonlySet<string> {
    let set = this.#sets.get(name);
    if (!set) {
      const def = this.get(name);
      if (!def) {
        throw invalidArgument(
          `Role ${name} is not known to the local cloud (it knows ${this.names().length} predefined roles; see local/iam/roles.ts)`,
        );
      }
      set = new Set(def.permissions);
      this.#sets.set(name, set);
    }
    return set;
  }

  names(): string[] {
    return [...new Set([...Object.keys(load().roles), ...this.#custom.keys()])].sort();
  }
}

/** The shared table of predefined roles. */
export const predefinedRoles = new RoleTable();
