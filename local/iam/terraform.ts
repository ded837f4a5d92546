// The IAM grants runway's Terraform makes, read without Terraform: the environment's .tf files
// and the local modules it calls, parsed with @cdktf/hcl2json, variables taken from its tfvars
// and defaults, modules and resources expanded over count and for_each, and every *_iam_member
// (and *_iam_binding) evaluated to principal, role and resource name. Attributes Google computes
// are derived as the provider does (a service account's email, a topic's id); one known only
// after apply (a service's URL) is an error if a grant needs it. An expression that cannot be
// resolved is an error naming its address: a grant is never dropped silently.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { RunwayError } from '../../services/shared/errors.ts';
import {
  attrOf,
  convert,
  type Expr,
  ExprError,
  evaluate,
  isObject,
  keysOf,
  Lazy,
  parseExpression,
  parseTemplate,
  type Scope,
  toText,
  type Value,
  type ValueMap,
} from './hcl-expr.ts';
import type { Binding } from './policy.ts';

// Required untyped, as test/infra/checks.ts does: its typings pull in the DOM lib.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse(file: string, text: string): Promise<unknown>;
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Block = Record<string, Json>;

export const DEFAULT_LOCAL_USER = 'user:developer@local';

export interface TerraformOptions {
  /** The environment's directory (the root module); infra/envs/example in the CLI. */
  dir: string;
  /** A tfvars file; default DIR/terraform.tfvars, else DIR/terraform.tfvars.example. */
  tfvars?: string;
  /** Variables that win over the tfvars file. */
  vars?: Record<string, Json>;
  /** Sources are named relative to this directory (the repository); default DIR. */
  base?: string;
  /** Also granted roles/owner on the project, only locally; false for none. */
  localUser?: string | false;
  /** The project's number, for names Google builds with it; default var.project_number. */
  projectNumber?: string;
}

export interface TerraformGrants {
  project: string;
  projectNumber?: string;
  bindings: Binding[];
}

/** A Terraform file's IAM could not be read; the message names the address. */
export class TerraformError extends RunwayError {
  override name = 'TerraformError';
  constructor(message: string, cause?: unknown) {
    super('FAILED_PRECONDITION', message, cause === undefined ? {} : { cause });
  }
}

interface ModuleDef {
  dir: string;
  variables: Record<string, Block>;
  locals: Record<string, { value: Json; file: string }>;
  outputs: Record<string, Block>;
  resources: { type: string; name: string; body: Block; file: string; line: number }[];
  data: Record<string, Record<string, Block>>;
  modules: Record<string, { body: Block; file: string; line: number }>;
  provider?: Block;
}

interface Instance {
  /** `["key"]`, `[0]` or empty. */
  suffix: string;
  each?: { key: Value; value: Value };
  count?: number;
}

const META_MODULE_ARGS = new Set([
  'source',
  'version',
  'for_each',
  'count',
  'depends_on',
  'providers',
]);

/** Reads the IAM grants of the environment in `options.dir`. */
export async function readTerraformGrants(options: TerraformOptions): Promise<TerraformGrants> {
  const loader = new Loader(options);
  const root = await loader.root();
  const bindings = await loader.collect(root);
  const project = root.provider('project');
  const projectNumber = loader.projectNumber(root);
  const localUser = options.localUser ?? DEFAULT_LOCAL_USER;
  if (localUser !== false) {
    bindings.push({
      principal: localUser,
      role: 'roles/owner',
      resource: `projects/${project}`,
      source: 'local: the local user owns the project (runway local up)',
    });
  }
  return { project, ...(projectNumber ? { projectNumber } : {}), bindings };
}

class Loader {
  readonly modules = new Map<string, ModuleDef>();
  readonly base: string;
  constructor(readonly options: TerraformOptions) {
    this.base = resolve(options.base ?? options.dir);
  }

  async module(dir: string): Promise<ModuleDef> {
    const abs = resolve(dir);
    const known = this.modules.get(abs);
    if (known) return known;
    const def = await readModule(abs);
    this.modules.set(abs, def);
    // Every module it calls is read now: evaluation, which follows references, is synchronous.
    for (const [name, call] of Object.entries(def.modules)) {
      const source = call.body.source;
      if (typeof source !== 'string' || !/^\.\.?\//.test(source)) {
        throw new TerraformError(
          `${this.where(call.file, call.line, `module.${name}`)}: the module source ${JSON.stringify(source)} is not a local path; only local modules are read`,
        );
      }
      await this.module(join(abs, source));
    }
    return def;
  }

  async root(): Promise<ModuleInstance> {
    const dir = resolve(this.options.dir);
    const def = await this.module(dir);
    const vars = { ...(await this.tfvars(dir)), ...this.options.vars };
    return new ModuleInstance(this, def, '', undefined, (name) =>
      Object.hasOwn(vars, name) ? (vars[name] as Value) : undefined,
    );
  }

  async tfvars(dir: string): Promise<Record<string, Json>> {
    const path =
      this.options.tfvars ??
      [join(dir, 'terraform.tfvars'), join(dir, 'terraform.tfvars.example')].find((p) =>
        existsSync(p),
      );
    if (!path) return {};
    const text = await readFile(path, 'utf8');
    // A tfvars file holds literals: its values are inputs, never evaluated as templates.
    return (await parseFile(path, text)) as Record<string, Json>;
  }

  projectNumber(root: ModuleInstance): string | undefined {
    if (this.options.projectNumber) return this.options.projectNumber;
    const v = root.def.variables.project_number ? root.variable('project_number') : null;
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  }

  where(file: string, line: number, address: string): string {
    return `${relative(this.base, file) || file}:${line} ${address}`;
  }

  /** Every grant of `m` and of the modules it calls, expanded over their instances. */
  async collect(m: ModuleInstance): Promise<Binding[]> {
    const out: Binding[] = [];
    for (const r of m.def.resources) {
      if (!/_iam_(member|binding|policy)$/.test(r.type)) continue;
      const address = `${m.prefix}${r.type}.${r.name}`;
      for (const inst of m.instances(r.body, address)) {
        const at = this.where(r.file, r.line, `${address}${inst.suffix}`);
        out.push(...grantsOf(m, r.type, r.body, inst, at));
      }
    }
    for (const [name, call] of Object.entries(m.def.modules)) {
      const address = `${m.prefix}module.${name}`;
      const def = await this.module(join(m.def.dir, String(call.body.source)));
      for (const inst of m.instances(call.body, address)) {
        const child = m.child(def, `${address}${inst.suffix}`, inst, call.body);
        out.push(...(await this.collect(child)));
      }
    }
    return out;
  }
}

async function parseFile(path: string, text: string): Promise<unknown> {
  try {
    return await parse(path, text);
  } catch (err) {
    throw new TerraformError(
      `${path}: not valid HCL: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
}

const asBlocks = (v: Json | undefined): Block[] =>
  Array.isArray(v) ? (v as Block[]) : v ? [v as Block] : [];

/** A module directory's .tf files, merged. */
async function readModule(dir: string): Promise<ModuleDef> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => f.endsWith('.tf')).sort();
  } catch (err) {
    throw new TerraformError(`${dir}: cannot read the module: ${(err as Error).message}`, err);
  }
  if (names.length === 0) throw new TerraformError(`${dir}: no .tf files`);
  const def: ModuleDef = {
    dir,
    variables: {},
    locals: {},
    outputs: {},
    resources: [],
    data: {},
    modules: {},
  };
  for (const f of names) {
    const file = join(dir, f);
    const text = await readFile(file, 'utf8');
    const doc = (await parseFile(file, text)) as Record<string, Json>;
    const line = (kind: string, ...labels: string[]) => lineOf(text, kind, labels);
    for (const [name, blocks] of Object.entries((doc.variable ?? {}) as Record<string, Json>)) {
      def.variables[name] = asBlocks(blocks)[0] ?? {};
    }
    for (const block of asBlocks(doc.locals)) {
      for (const [name, value] of Object.entries(block)) def.locals[name] = { value, file };
    }
    for (const [name, blocks] of Object.entries((doc.output ?? {}) as Record<string, Json>)) {
      def.outputs[name] = asBlocks(blocks)[0] ?? {};
    }
    for (const [type, byName] of Object.entries(
      (doc.resource ?? {}) as Record<string, Record<string, Json>>,
    )) {
      for (const [name, blocks] of Object.entries(byName)) {
        for (const body of asBlocks(blocks)) {
          def.resources.push({ type, name, body, file, line: line('resource', type, name) });
        }
      }
    }
    for (const [type, byName] of Object.entries(
      (doc.data ?? {}) as Record<string, Record<string, Json>>,
    )) {
      for (const [name, blocks] of Object.entries(byName)) {
        def.data[type] ??= {};
        def.data[type][name] = asBlocks(blocks)[0] ?? {};
      }
    }
    for (const [name, blocks] of Object.entries((doc.module ?? {}) as Record<string, Json>)) {
      def.modules[name] = { body: asBlocks(blocks)[0] ?? {}, file, line: line('module', name) };
    }
    const google = asBlocks(((doc.provider ?? {}) as Record<string, Json>).google).find(
      (p) => !p.alias,
    );
    if (google) def.provider = google;
  }
  return def;
}

/** The line a block starts on: hcl2json keeps no positions. */
function lineOf(text: string, kind: string, labels: string[]): number {
  const re = new RegExp(
    `^\\s*${kind}\\s+${labels.map((l) => `"${l.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`).join('\\s+')}`,
    'm',
  );
  const m = re.exec(text);
  return m ? text.slice(0, m.index).split('\n').length : 0;
}

/** A JSON value from hcl2json evaluated: its strings are templates. */
function evalJson(v: Json | undefined, scope: Scope): Value {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return evaluate(parseTemplate(v), scope);
  if (Array.isArray(v)) return v.map((x) => evalJson(x, scope));
  if (typeof v === 'object') {
    const out: ValueMap = {};
    for (const [k, x] of Object.entries(v)) out[k] = evalJson(x, scope);
    return out;
  }
  return v;
}

const keySuffix = (k: Value) => (typeof k === 'number' ? `[${k}]` : `[${JSON.stringify(k)}]`);

/** One instance of a module: its variables, locals, resources and outputs, evaluated lazily. */
class ModuleInstance {
  readonly #memo = new Map<string, Value>();
  readonly #busy = new Set<string>();
  readonly prefix: string;

  constructor(
    readonly loader: Loader,
    readonly def: ModuleDef,
    readonly address: string,
    readonly parent: ModuleInstance | undefined,
    readonly input: (name: string) => Value | undefined,
  ) {
    this.prefix = address ? `${address}.` : '';
  }

  /** Remembers a value; a value that needs itself is a cycle, reported as one. */
  memo(key: string, compute: () => Value): Value {
    if (this.#memo.has(key)) return this.#memo.get(key)!;
    if (this.#busy.has(key)) throw new ExprError(`${this.prefix}${key} depends on itself`);
    this.#busy.add(key);
    try {
      const v = compute();
      this.#memo.set(key, v);
      return v;
    } finally {
      this.#busy.delete(key);
    }
  }

  /** Evaluates with errors prefixed by `what` (an address and attribute). */
  guarded<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      // Each level names itself: the grant, then the attribute, then the variable it came from.
      if (err instanceof TerraformError || err instanceof ExprError) {
        throw new TerraformError(`${what}: ${err.message}`, err);
      }
      throw err;
    }
  }

  scope(inst?: Instance): Scope {
    return {
      lookup: (root) => this.lookup(root, inst),
      functions: {
        file: ([p]) => {
          throw new ExprError(
            `file(${JSON.stringify(p)}) is not read: no IAM grant needs a file's content`,
          );
        },
      },
    };
  }

  lookup(root: string, inst?: Instance): Value | undefined {
    switch (root) {
      case 'var':
        return new Lazy(
          `${this.prefix}var`,
          () => Object.keys(this.def.variables),
          (n) => (Object.hasOwn(this.def.variables, n) ? this.variable(n) : undefined),
        );
      case 'local':
        return new Lazy(
          `${this.prefix}local`,
          () => Object.keys(this.def.locals),
          (n) => (Object.hasOwn(this.def.locals, n) ? this.local(n) : undefined),
        );
      case 'module':
        return new Lazy(
          `${this.prefix}module`,
          () => Object.keys(this.def.modules),
          (n) => (Object.hasOwn(this.def.modules, n) ? this.moduleRef(n) : undefined),
        );
      case 'each':
        if (!inst?.each) throw new ExprError('each is used where there is no for_each');
        return { key: inst.each.key, value: inst.each.value };
      case 'count':
        if (inst?.count === undefined)
          throw new ExprError('count.index is used where there is no count');
        return { index: inst.count };
      case 'path':
        return { module: this.def.dir, root: this.loader.options.dir, cwd: this.loader.base };
      case 'terraform':
        return { workspace: 'default' };
      case 'data':
        return new Lazy(
          'data',
          () => Object.keys(this.def.data),
          (type) => this.dataRef(type),
        );
    }
    if (/^[a-z0-9]+_[a-z0-9_]+$/.test(root)) {
      const named = this.def.resources.filter((r) => r.type === root);
      if (named.length === 0) return undefined;
      return new Lazy(
        root,
        () => named.map((r) => r.name),
        (name) => this.resourceRef(root, name),
      );
    }
    return undefined;
  }

  variable(name: string): Value {
    return this.memo(`var.${name}`, () =>
      this.guarded(`${this.prefix}var.${name}`, () => {
        const decl = this.def.variables[name] ?? {};
        let v = this.input(name);
        if (v === undefined) {
          if (!Object.hasOwn(decl, 'default')) {
            throw new ExprError(
              this.address
                ? `no value: the module call passes none and the variable has no default`
                : `no value: set it in the tfvars file or give it a default`,
            );
          }
          v = evalJson(decl.default, { lookup: () => undefined });
        }
        const type = decl.type;
        if (typeof type === 'string') v = convert(v, typeConstraint(type), `var.${name}`);
        return v;
      }),
    );
  }

  local(name: string): Value {
    return this.memo(`local.${name}`, () =>
      this.guarded(`${this.prefix}local.${name}`, () =>
        evalJson(this.def.locals[name]!.value, this.scope()),
      ),
    );
  }

  output(name: string): Value | undefined {
    const decl = this.def.outputs[name];
    if (!decl) return undefined;
    return this.memo(`output.${name}`, () =>
      this.guarded(`${this.prefix}output.${name}`, () => evalJson(decl.value, this.scope())),
    );
  }

  /** The instances of a resource or module block: one, or one per count index or for_each key. */
  instances(body: Block, address: string): Instance[] {
    return this.guarded(address, () => {
      if (body.for_each !== undefined && body.count !== undefined) {
        throw new ExprError('for_each and count are both set');
      }
      if (body.count !== undefined) {
        const n = evalJson(body.count, this.scope());
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
          throw new ExprError(`count is ${JSON.stringify(n)}, not a whole number`);
        }
        return Array.from({ length: n }, (_, i) => ({ suffix: `[${i}]`, count: i }));
      }
      if (body.for_each !== undefined) {
        const coll = evalJson(body.for_each, this.scope());
        if (Array.isArray(coll)) {
          // A set of strings: each.key and each.value are the element.
          return coll.map((x) => {
            const k = toText(x, 'a for_each set element');
            return { suffix: keySuffix(k), each: { key: k, value: k } };
          });
        }
        if (isObject(coll)) {
          return keysOf(coll).map((k) => ({
            suffix: keySuffix(k),
            each: { key: k, value: attrOf(coll, k) ?? null },
          }));
        }
        throw new ExprError(
          `for_each is ${coll === null ? 'null' : typeof coll}, not a map or a set`,
        );
      }
      return [{ suffix: '' }];
    });
  }

  /** A resource as an expression sees it: one instance, or a list or map of them. */
  resourceRef(type: string, name: string): Value | undefined {
    const r = this.def.resources.find((x) => x.type === type && x.name === name);
    if (!r) return undefined;
    return this.memo(`${type}.${name}`, () => {
      const address = `${this.prefix}${type}.${name}`;
      const insts = this.instances(r.body, address);
      const one = (inst: Instance) =>
        this.resourceInstance(type, r.body, inst, `${address}${inst.suffix}`);
      if (r.body.count !== undefined) return insts.map(one);
      if (r.body.for_each !== undefined) {
        const byKey = new Map(insts.map((i) => [String(i.each!.key), i]));
        return new Lazy(
          address,
          () => [...byKey.keys()],
          (k) => {
            const i = byKey.get(k);
            return i ? one(i) : undefined;
          },
        );
      }
      return one(insts[0]!);
    });
  }

  resourceInstance(type: string, body: Block, inst: Instance, address: string): Lazy {
    const memo = new Map<string, Value>();
    const arg = (attr: string): Value | undefined => {
      if (!Object.hasOwn(body, attr)) return undefined;
      if (!memo.has(attr)) {
        memo.set(
          attr,
          this.guarded(`${address}.${attr}`, () => evalJson(body[attr], this.scope(inst))),
        );
      }
      return memo.get(attr)!;
    };
    const computed = COMPUTED[type] ?? {};
    return new Lazy(
      address,
      () => [...new Set([...Object.keys(body), ...Object.keys(computed)])],
      (attr) => {
        const given = arg(attr);
        if (given !== undefined) return given;
        const derive = computed[attr];
        if (derive) return this.guarded(`${address}.${attr}`, () => derive(arg, this.context()));
        throw new ExprError(
          `${address}.${attr} is not set in the configuration, and is known only after apply`,
        );
      },
    );
  }

  /** The google provider's project or region: the root module's provider block. */
  providerArg(name: 'project' | 'region'): string {
    const root = this.rootModule();
    const block = root.def.provider;
    if (!block || block[name] === undefined) {
      throw new ExprError(`the resource sets no ${name} and the google provider has none`);
    }
    return toText(
      root.guarded(`provider.google.${name}`, () => evalJson(block[name], root.scope())),
      `provider ${name}`,
    );
  }

  provider(name: 'project' | 'region'): string {
    try {
      return this.providerArg(name);
    } catch (err) {
      if (err instanceof ExprError)
        throw new TerraformError(`provider "google": ${err.message}`, err);
      throw err;
    }
  }

  context(): Context {
    return {
      provider: (name) => this.providerArg(name),
      projectNumber: () => {
        const n = this.loader.projectNumber(this.rootModule());
        if (!n)
          throw new ExprError(
            'the project number is needed: set var.project_number or the projectNumber option',
          );
        return n;
      },
    };
  }

  rootModule(): ModuleInstance {
    let m: ModuleInstance = this;
    while (m.parent) m = m.parent;
    return m;
  }

  moduleRef(name: string): Value | undefined {
    const call = this.def.modules[name];
    if (!call) return undefined;
    return this.memo(`module.${name}`, () => {
      const source = call.body.source;
      const def = this.loader.modules.get(resolve(join(this.def.dir, String(source))));
      if (!def) throw new ExprError(`module.${name} (${String(source)}) was not read`);
      const address = `${this.prefix}module.${name}`;
      const insts = this.instances(call.body, address);
      const outputs = (inst: Instance) => {
        const child = this.child(def, `${address}${inst.suffix}`, inst, call.body);
        return new Lazy(
          child.address,
          () => Object.keys(def.outputs),
          (o) => child.output(o),
        );
      };
      if (call.body.count !== undefined) return insts.map(outputs);
      if (call.body.for_each !== undefined) {
        const byKey = new Map(insts.map((i) => [String(i.each!.key), i]));
        return new Lazy(
          address,
          () => [...byKey.keys()],
          (k) => {
            const i = byKey.get(k);
            return i ? outputs(i) : undefined;
          },
        );
      }
      return outputs(insts[0]!);
    });
  }

  #children = new Map<string, ModuleInstance>();

  /** The instance of a called module, its inputs evaluated here with the call's each/count. */
  child(def: ModuleDef, address: string, inst: Instance, call: Block): ModuleInstance {
    let c = this.#children.get(address);
    if (!c) {
      c = new ModuleInstance(this.loader, def, address, this, (name) => {
        if (META_MODULE_ARGS.has(name) || !Object.hasOwn(call, name)) return undefined;
        return this.guarded(`${address} (argument ${name})`, () =>
          evalJson(call[name], this.scope(inst)),
        );
      });
      this.#children.set(address, c);
    }
    return c;
  }

  dataRef(type: string): Value | undefined {
    const byName = this.def.data[type];
    if (!byName) return undefined;
    if (type !== 'google_project') {
      throw new ExprError(`data.${type} is not read locally (only data.google_project is)`);
    }
    return new Lazy(
      `data.${type}`,
      () => Object.keys(byName),
      (name) => {
        if (!byName[name]) return undefined;
        const body = byName[name]!;
        const project =
          body.project_id !== undefined
            ? toText(evalJson(body.project_id, this.scope()), 'project_id')
            : this.providerArg('project');
        const number = this.loader.projectNumber(this.rootModule());
        return new Lazy(
          `data.${type}.${name}`,
          () => ['project_id', 'number', 'name', 'id'],
          (a) => {
            if (a === 'project_id' || a === 'name') return project;
            if (a === 'id') return `projects/${project}`;
            if (a === 'number') {
              if (!number)
                throw new ExprError(
                  'data.google_project.number needs the project number (var.project_number)',
                );
              return number;
            }
            return undefined;
          },
        );
      },
    );
  }
}

const types = new Map<string, Expr>();
function typeConstraint(text: string): Expr {
  let t = types.get(text);
  if (!t) {
    const inner = /^\$\{([\s\S]*)\}$/.exec(text.trim());
    t = parseExpression(inner ? inner[1]! : text);
    types.set(text, t);
  }
  return t;
}

type Arg = (name: string) => Value | undefined;
interface Context {
  provider(name: 'project' | 'region'): string;
  projectNumber(): string;
}

const text = (v: Value | undefined, what: string): string => {
  if (v === undefined || v === null) throw new ExprError(`${what} is not set`);
  return toText(v, what);
};
const given = (arg: Arg, key: string) => arg(key) !== undefined && arg(key) !== null;
const projectOf = (arg: Arg, c: Context) =>
  given(arg, 'project')
    ? text(arg('project'), 'project').replace(/^projects\//, '')
    : c.provider('project');
const regionOf = (arg: Arg, c: Context, key = 'location') =>
  given(arg, key) ? text(arg(key), key) : c.provider('region');

/** Attributes the Google provider computes, for the resources IAM grants refer to. */
const COMPUTED: Record<string, Record<string, (arg: Arg, c: Context) => Value>> = {
  google_service_account: {
    email: (a, p) =>
      `${text(a('account_id'), 'account_id')}@${projectOf(a, p)}.iam.gserviceaccount.com`,
    name: (a, p) =>
      `projects/${projectOf(a, p)}/serviceAccounts/${text(a('account_id'), 'account_id')}@${projectOf(a, p)}.iam.gserviceaccount.com`,
    id: (a, p) => COMPUTED.google_service_account!.name!(a, p),
    member: (a, p) => `serviceAccount:${COMPUTED.google_service_account!.email!(a, p)}`,
  },
  google_cloud_run_v2_service: {
    id: (a, p) =>
      `projects/${projectOf(a, p)}/locations/${regionOf(a, p)}/services/${text(a('name'), 'name')}`,
  },
  google_cloud_run_v2_job: {
    id: (a, p) =>
      `projects/${projectOf(a, p)}/locations/${regionOf(a, p)}/jobs/${text(a('name'), 'name')}`,
  },
  google_cloud_run_v2_worker_pool: {
    id: (a, p) =>
      `projects/${projectOf(a, p)}/locations/${regionOf(a, p)}/workerPools/${text(a('name'), 'name')}`,
  },
  google_pubsub_topic: {
    id: (a, p) => `projects/${projectOf(a, p)}/topics/${text(a('name'), 'name')}`,
  },
  google_pubsub_subscription: {
    id: (a, p) => `projects/${projectOf(a, p)}/subscriptions/${text(a('name'), 'name')}`,
  },
  google_artifact_registry_repository: {
    id: (a, p) =>
      `projects/${projectOf(a, p)}/locations/${regionOf(a, p)}/repositories/${text(a('repository_id'), 'repository_id')}`,
    name: (a) => text(a('repository_id'), 'repository_id'),
  },
  google_storage_bucket: {
    id: (a) => text(a('name'), 'name'),
    url: (a) => `gs://${text(a('name'), 'name')}`,
  },
  google_workflows_workflow: {
    id: (a, p) =>
      `projects/${projectOf(a, p)}/locations/${regionOf(a, p, 'region')}/workflows/${text(a('name'), 'name')}`,
  },
  google_cloud_scheduler_job: {
    id: (a, p) =>
      `projects/${projectOf(a, p)}/locations/${regionOf(a, p, 'region')}/jobs/${text(a('name'), 'name')}`,
  },
  google_iam_workload_identity_pool: {
    name: (a, c) =>
      `projects/${c.projectNumber()}/locations/global/workloadIdentityPools/${text(a('workload_identity_pool_id'), 'workload_identity_pool_id')}`,
  },
  google_iam_workload_identity_pool_provider: {
    name: (a, c) =>
      `projects/${c.projectNumber()}/locations/global/workloadIdentityPools/${text(a('workload_identity_pool_id'), 'workload_identity_pool_id')}/providers/${text(a('workload_identity_pool_provider_id'), 'workload_identity_pool_provider_id')}`,
  },
};

// ---- the grants ------------------------------------------------------------------------------

/** The resource name an IAM resource type grants on, from its arguments. */
const GRANTED_ON: Record<string, (arg: Arg, c: Context) => string> = {
  google_project_iam: (a, c) => `projects/${projectOf(a, c)}`,
  google_cloud_run_v2_service_iam: (a, c) => named(a, c, 'name', 'services'),
  google_cloud_run_service_iam: (a, c) => named(a, c, 'service', 'services'),
  google_cloud_run_v2_job_iam: (a, c) => named(a, c, 'name', 'jobs'),
  google_cloud_run_v2_worker_pool_iam: (a, c) => named(a, c, 'name', 'workerPools'),
  google_service_account_iam: (a) => {
    const id = text(a('service_account_id'), 'service_account_id');
    if (/^projects\/[^/]+\/serviceAccounts\/[^/]+$/.test(id)) return id;
    if (/^[^/@]+@[^/@]+$/.test(id)) return `projects/-/serviceAccounts/${id}`;
    throw new ExprError(
      `service_account_id ${JSON.stringify(id)} is neither projects/P/serviceAccounts/EMAIL nor an email`,
    );
  },
  google_pubsub_topic_iam: (a, c) => {
    const t = text(a('topic'), 'topic');
    return t.startsWith('projects/') ? t : `projects/${projectOf(a, c)}/topics/${t}`;
  },
  google_pubsub_subscription_iam: (a, c) => {
    const s = text(a('subscription'), 'subscription');
    return s.startsWith('projects/') ? s : `projects/${projectOf(a, c)}/subscriptions/${s}`;
  },
  google_artifact_registry_repository_iam: (a, c) => {
    const r = text(a('repository'), 'repository');
    return r.startsWith('projects/')
      ? r
      : `projects/${projectOf(a, c)}/locations/${regionOf(a, c)}/repositories/${r}`;
  },
  google_storage_bucket_iam: (a) =>
    `projects/_/buckets/${text(a('bucket'), 'bucket').replace(/^b\//, '')}`,
};

/** A Cloud Run service, job or worker pool: its full name, or its short name with project and location. */
function named(a: Arg, c: Context, key: string, collection: string): string {
  const n = text(a(key), key);
  if (n.startsWith('projects/')) return n;
  return `projects/${projectOf(a, c)}/locations/${regionOf(a, c)}/${collection}/${n}`;
}

/** The bindings one instance of an IAM resource makes. */
function grantsOf(
  m: ModuleInstance,
  type: string,
  body: Block,
  inst: Instance,
  at: string,
): Binding[] {
  return m.guarded(at, () => {
    const kind = /_iam_(member|binding|policy)$/.exec(type)![1]!;
    const base = type.slice(0, -`_iam_${kind}`.length) + '_iam';
    if (kind === 'policy') {
      throw new ExprError(
        `${type} replaces a whole policy and is not read; grant with ${base}_member`,
      );
    }
    const on = GRANTED_ON[base];
    if (!on)
      throw new ExprError(`${type} is not a grant the local IAM reads (local/iam/terraform.ts)`);
    if (body.condition !== undefined) {
      throw new ExprError(
        'an IAM condition is set, and the local cloud does not evaluate conditions',
      );
    }
    const scope = m.scope(inst);
    const arg: Arg = (name) =>
      Object.hasOwn(body, name) ? m.guarded(name, () => evalJson(body[name], scope)) : undefined;
    const role = text(arg('role'), 'role');
    const resource = on(arg, m.context());
    const principals =
      kind === 'member'
        ? [text(arg('member'), 'member')]
        : (() => {
            const members = arg('members');
            if (!Array.isArray(members)) throw new ExprError('members is not a list');
            return members.map((x) => text(x, 'an element of members'));
          })();
    return principals.map((principal) => ({ principal, role, resource, source: at }));
  });
}
