// Cloud Build's substitutions, as Google's own local builder (cloud-build-local, `subst` and
// `validate`) applies them: `$NAME` and `${NAME}` in step names, args, env, dir and entrypoint,
// images, tags and artifact objects; `$$` for a literal `$`; built-ins filled by the service;
// user keys `_[A-Z0-9_]+`; with `options.dynamicSubstitutions`, bash-style expansions inside the
// substitution values; and the MUST_MATCH checks that `substitutionOption: ALLOW_LOOSE` relaxes.
import { invalidArgument } from '../../services/shared/errors.ts';

export const SUBSTITUTION_LIMITS = { count: 100, keyLength: 100, valueLength: 4000 } as const;

export const USER_KEY = /^_[A-Z0-9_]+$/;

/** Every built-in; true for those a caller may pass (`gcloud builds submit --substitutions`). */
export const BUILT_INS: Readonly<Record<string, boolean>> = {
  PROJECT_ID: false,
  BUILD_ID: false,
  PROJECT_NUMBER: false,
  LOCATION: false,
  TRIGGER_NAME: false,
  TRIGGER_BUILD_CONFIG_PATH: false,
  SERVICE_ACCOUNT_EMAIL: false,
  SERVICE_ACCOUNT: false,
  REPO_FULL_NAME: false,
  REF_NAME: false,
  REPO_NAME: true,
  BRANCH_NAME: true,
  TAG_NAME: true,
  REVISION_ID: true,
  COMMIT_SHA: true,
  SHORT_SHA: true,
};

export interface BuiltInContext {
  projectId: string;
  buildId: string;
  location: string;
  projectNumber: string;
  serviceAccountEmail?: string;
}

/** The built-ins of a build outside a trigger: the trigger's ones are empty unless passed. */
export function builtInValues(ctx: BuiltInContext): Record<string, string> {
  const values: Record<string, string> = Object.fromEntries(
    Object.keys(BUILT_INS).map((k) => [k, '']),
  );
  values.PROJECT_ID = ctx.projectId;
  values.BUILD_ID = ctx.buildId;
  values.LOCATION = ctx.location;
  values.PROJECT_NUMBER = ctx.projectNumber;
  if (ctx.serviceAccountEmail) {
    values.SERVICE_ACCOUNT_EMAIL = ctx.serviceAccountEmail;
    values.SERVICE_ACCOUNT = `projects/${ctx.projectId}/serviceAccounts/${ctx.serviceAccountEmail}`;
  }
  return values;
}

export interface TemplateParameter {
  start: number;
  /** Index just past the parameter. */
  end: number;
  /** Absent for `$$`. */
  key?: string;
}

const PARAM = /\$(?:\{([A-Z_][A-Z0-9_]*)\}|([A-Z_][A-Z0-9_]*))/y;

/** The `$NAME`, `${NAME}` and `$$` of a template, in order. `${_X:0:3}` is not one: it stays. */
export function templateParameters(input: string): TemplateParameter[] {
  const out: TemplateParameter[] = [];
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== '$') continue;
    if (input[i + 1] === '$') {
      out.push({ start: i, end: i + 2 });
      i++;
      continue;
    }
    PARAM.lastIndex = i;
    const m = PARAM.exec(input);
    if (m) {
      out.push({ start: i, end: i + m[0].length, key: (m[1] ?? m[2])! });
      i += m[0].length - 1;
    }
  }
  return out;
}

/** Replaces every parameter; a key without a value becomes empty, `$$` becomes `$`. */
export function expandTemplate(input: string, values: Readonly<Record<string, string>>): string {
  let out = '';
  let last = 0;
  for (const p of templateParameters(input)) {
    out += input.slice(last, p.start);
    out += p.key === undefined ? '$' : (values[p.key] ?? '');
    last = p.end;
  }
  return out + input.slice(last);
}

/** Go's `%+v` of a map[string]string, as Google's messages print the substitutions. */
function goMap(map: Readonly<Record<string, string>>): string {
  return `map[${Object.keys(map)
    .sort()
    .map((k) => `${k}:${map[k]}`)
    .join(' ')}]`;
}

/** The map's own rules: how many keys, their form and length, the values' length. */
export function checkSubstitutionMap(map: Readonly<Record<string, string>>): void {
  const keys = Object.keys(map);
  const fail = (why: string) => {
    throw invalidArgument(`invalid .substitutions field: ${why}`, [
      { field: 'substitutions', description: why },
    ]);
  };
  if (keys.length > SUBSTITUTION_LIMITS.count) {
    fail(`number of substitutions ${keys.length} exceeded (max: ${SUBSTITUTION_LIMITS.count})`);
  }
  for (const k of keys.sort()) {
    if (Buffer.byteLength(k) > SUBSTITUTION_LIMITS.keyLength) {
      fail(
        `substitution key ${JSON.stringify(k.slice(0, 120))} too long (max: ${SUBSTITUTION_LIMITS.keyLength})`,
      );
    }
    if (!USER_KEY.test(k) && BUILT_INS[k] !== true) {
      fail(
        `substitution key ${JSON.stringify(k)} does not respect format "^_[A-Z0-9_]+$" and is not an overridable built-in substitutions`,
      );
    }
    const v = map[k]!;
    if (Buffer.byteLength(v) > SUBSTITUTION_LIMITS.valueLength) {
      fail(
        `substitution value of ${k} too long (${Buffer.byteLength(v)} bytes, max: ${SUBSTITUTION_LIMITS.valueLength})`,
      );
    }
  }
}

/**
 * MUST_MATCH: every template key has a value and every passed key is used in the templates.
 * A template key that is neither a user key nor a built-in fails even under ALLOW_LOOSE.
 */
export function checkTemplates(
  templates: readonly string[],
  map: Readonly<Record<string, string>>,
  loose: boolean,
): void {
  const used = new Set<string>();
  const problems: string[] = [];
  for (const t of templates) {
    for (const p of templateParameters(t)) {
      if (p.key === undefined) continue;
      used.add(p.key);
      if (Object.hasOwn(map, p.key)) continue;
      if (USER_KEY.test(p.key)) {
        problems.push(
          `key in the template ${JSON.stringify(p.key)} is not matched in the substitution data; substitutions = ${goMap(map)}`,
        );
      } else if (!Object.hasOwn(BUILT_INS, p.key)) {
        throw invalidArgument(
          `key in the template ${JSON.stringify(p.key)} is not a valid built-in substitution`,
        );
      }
    }
  }
  for (const k of Object.keys(map).sort()) {
    if (!used.has(k))
      problems.push(
        `key ${JSON.stringify(k)} in the substitution data is not matched in the template`,
      );
  }
  if (problems.length > 0 && !loose) throw invalidArgument(problems.join(';'));
}

// --- dynamic substitutions: bash-style expansions in the values -------------------------------

class BadSubstitution extends Error {}

/** Over this an expansion stops growing, and the value is then refused as too long. */
const CAP = SUBSTITUTION_LIMITS.valueLength + 1;
const cap = (s: string) => (s.length > CAP ? s.slice(0, CAP) : s);

/** A glob of bash patterns (`*`, `?`) as an anchored regular expression. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (const c of pattern) {
    if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function trim(value: string, pattern: string, op: '#' | '##' | '%' | '%%'): string {
  const re = globRegExp(pattern);
  const n = value.length;
  const prefix = op === '#' || op === '##';
  const longest = op === '##' || op === '%%';
  for (let k = 0; k <= n; k++) {
    const len = longest ? n - k : k;
    const part = prefix ? value.slice(0, len) : value.slice(n - len);
    if (re.test(part)) return prefix ? value.slice(len) : value.slice(0, n - len);
  }
  return value;
}

function substring(value: string, spec: string): string {
  const [offText = '', lenText] = spec.split(':');
  const int = (t: string) => {
    const s = t.trim();
    if (!/^-?\d+$/.test(s)) throw new BadSubstitution('bad substitution');
    return Number(s);
  };
  let off = int(offText);
  if (off < 0) off = Math.max(0, value.length + off);
  const rest = value.slice(off);
  if (lenText === undefined) return rest;
  const len = int(lenText);
  return len >= 0 ? rest.slice(0, len) : rest.slice(0, Math.max(0, rest.length + len));
}

const OPERATORS = [
  '^^',
  '^',
  ',,',
  ',',
  ':-',
  ':=',
  '-',
  '=',
  '//',
  '/#',
  '/%',
  '/',
  '##',
  '#',
  '%%',
  '%',
  ':',
];

/** The index of the `}` closing the `${` at `open`, counting nested `${`. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) return i;
  }
  throw new BadSubstitution('missing closing brace');
}

class DynamicEvaluator {
  readonly #raw: Record<string, string>;
  readonly #done = new Map<string, string>();
  readonly #evaluating = new Set<string>();

  constructor(raw: Record<string, string>) {
    this.#raw = raw;
  }

  value(key: string): string {
    const done = this.#done.get(key);
    if (done !== undefined) return done;
    if (!Object.hasOwn(this.#raw, key)) return '';
    if (this.#evaluating.has(key)) throw new BadSubstitution('cycle in evaluating substitutions');
    this.#evaluating.add(key);
    try {
      let raw = this.#raw[key]!;
      // A value that is exactly `$NAME` reads NAME, as `${NAME}` does.
      if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) raw = `\${${raw.slice(1)}}`;
      const out = this.expand(raw);
      this.#done.set(key, out);
      return out;
    } finally {
      this.#evaluating.delete(key);
    }
  }

  /** Expands every `${...}` in `s`; a bare `$NAME` inside a longer value stays as written. */
  expand(s: string): string {
    let out = '';
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '$' && s[i + 1] === '{') {
        const end = closing(s, i);
        out += this.#expression(s.slice(i + 2, end));
        i = end;
      } else out += s[i];
      if (out.length > CAP) return cap(out);
    }
    return out;
  }

  #expression(expr: string): string {
    if (expr.startsWith('#') && /^#[A-Za-z_][A-Za-z0-9_]*$/.test(expr)) {
      return String(this.value(expr.slice(1)).length);
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr);
    if (!m) throw new BadSubstitution('bad substitution');
    const name = m[0];
    const rest = expr.slice(name.length);
    if (rest === '') return this.value(name);
    const op = OPERATORS.find((o) => rest.startsWith(o));
    if (!op) throw new BadSubstitution('bad substitution');
    const arg = rest.slice(op.length);
    const value = this.value(name);
    switch (op) {
      case '^^':
        return value.toUpperCase();
      case '^':
        return value.slice(0, 1).toUpperCase() + value.slice(1);
      case ',,':
        return value.toLowerCase();
      case ',':
        return value.slice(0, 1).toLowerCase() + value.slice(1);
      case ':-':
      case ':=':
        return value === '' ? this.expand(arg) : value;
      case '-':
      case '=':
        return Object.hasOwn(this.#raw, name) ? value : this.expand(arg);
      case ':':
        return substring(value, this.expand(arg));
      case '#':
      case '##':
      case '%':
      case '%%':
        return trim(value, this.expand(arg), op);
      default:
        return this.#replace(value, op, arg);
    }
  }

  #replace(value: string, op: string, arg: string): string {
    // The pattern ends at the first `/` not escaped as `\/` (`${BRANCH_NAME//\//-}`).
    let slash = -1;
    for (let i = 0; i < arg.length; i++) {
      if (arg[i] === '\\') i++;
      else if (arg[i] === '/') {
        slash = i;
        break;
      }
    }
    const unescaped = (t: string) => t.replace(/\\(.)/g, '$1');
    const pattern = unescaped(this.expand(slash < 0 ? arg : arg.slice(0, slash)));
    const replacement = slash < 0 ? '' : unescaped(this.expand(arg.slice(slash + 1)));
    if (pattern === '') return value;
    if (op === '//') return cap(value.split(pattern).join(replacement));
    if (op === '/#')
      return value.startsWith(pattern) ? replacement + value.slice(pattern.length) : value;
    if (op === '/%') {
      return value.endsWith(pattern)
        ? value.slice(0, value.length - pattern.length) + replacement
        : value;
    }
    const at = value.indexOf(pattern);
    return at < 0 ? value : value.slice(0, at) + replacement + value.slice(at + pattern.length);
  }
}

/**
 * Evaluates the user's values with bash-style expansions over `builtIns` and each other (the
 * passed map overriding built-ins). A cycle or a malformed expansion fails the build; so does a
 * value that grows past the value limit.
 */
export function evalDynamic(
  map: Readonly<Record<string, string>>,
  builtIns: Readonly<Record<string, string>>,
): Record<string, string> {
  const evaluator = new DynamicEvaluator({ ...builtIns, ...map });
  const out: Record<string, string> = {};
  const errors: string[] = [];
  for (const k of Object.keys(map).sort()) {
    try {
      out[k] = evaluator.value(k);
      if (out[k].length > SUBSTITUTION_LIMITS.valueLength) {
        errors.push(
          `[${k} -> ${map[k]}]: the value is longer than ${SUBSTITUTION_LIMITS.valueLength} bytes once expanded`,
        );
      }
    } catch (err) {
      if (!(err instanceof BadSubstitution)) throw err;
      errors.push(`[${k} -> ${map[k]}]: ${err.message}`);
    }
  }
  if (errors.length > 0) {
    throw invalidArgument(`invalid .substitutions field: ${errors.join(', ')}`);
  }
  return out;
}

// --- a whole build -------------------------------------------------------------------------------

/** The parts of a build that substitutions read and rewrite. */
export interface SubstitutableBuild {
  steps: { name: string; args: string[]; env: string[]; dir: string; entrypoint: string }[];
  images: string[];
  tags: string[];
  substitutions: Record<string, string>;
  options: { substitutionOption: 'MUST_MATCH' | 'ALLOW_LOOSE'; dynamicSubstitutions: boolean };
}

/** Every template of a build, in the order Google checks them. */
export function buildTemplates(build: SubstitutableBuild): string[] {
  return [
    ...build.steps.flatMap((s) => [s.name, ...s.args, ...s.env, s.dir, s.entrypoint]),
    ...build.images,
    ...build.tags,
  ];
}

/**
 * Checks and applies the substitutions; returns the values used (built-ins and the user's, after
 * dynamic evaluation), which are also what `automapSubstitutions` maps into the steps' env.
 */
export function substituteBuild<B extends SubstitutableBuild>(
  build: B,
  builtIns: Readonly<Record<string, string>>,
): { build: B; values: Record<string, string> } {
  checkSubstitutionMap(build.substitutions);
  checkTemplates(
    buildTemplates(build),
    build.substitutions,
    build.options.substitutionOption === 'ALLOW_LOOSE',
  );
  const user = build.options.dynamicSubstitutions
    ? evalDynamic(build.substitutions, builtIns)
    : { ...build.substitutions };
  const values = { ...builtIns, ...user };
  const x = (s: string) => expandTemplate(s, values);
  return {
    build: {
      ...build,
      steps: build.steps.map((s) => ({
        ...s,
        name: x(s.name),
        args: s.args.map(x),
        env: s.env.map(x),
        dir: x(s.dir),
        entrypoint: x(s.entrypoint),
      })),
      images: build.images.map(x),
      tags: build.tags.map(x),
    } as B,
    values,
  };
}
