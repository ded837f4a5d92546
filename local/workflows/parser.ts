// Parses a workflow definition (YAML or JSON) into the syntax tree, compiling every expression;
// one function per step kind. The deploy-time checks over the parsed tree are in validate.ts.
import {
  isMap as isYamlMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { DeployError } from './errors.ts';
import {
  appendForm,
  compileExpression,
  expressionText,
  MAX_EXPRESSION_LENGTH,
} from './expression.ts';
import type {
  RetryPolicy,
  Routine,
  Step,
  StepBody,
  SwitchCase,
  Target,
  Template,
  Workflow,
} from './syntax.ts';
import { checkCallTargets, type Jumps, type JumpScope, validateRoutine } from './validate.ts';
import type { Value } from './values.ts';

const STEP_KINDS = [
  'assign',
  'call',
  'switch',
  'for',
  'parallel',
  'try',
  'raise',
  'return',
  'steps',
] as const;
type StepKind = (typeof STEP_KINDS)[number];
const STEP_KEYS = new Set<string>([...STEP_KINDS, 'args', 'result', 'next', 'retry', 'except']);
const MAX_ASSIGNMENTS = 50;
const MAX_SWITCH_CONDITIONS = 50;
const MAX_PARALLEL_BRANCHES = 10;
export const MAX_SOURCE_BYTES = 128 * 1024;

interface Ctx {
  lines: LineCounter;
  routine: string;
  /** Step names and `next`s of the routine being parsed, for validate.ts. */
  jumps: Jumps;
  /** How many for loops enclose the steps being parsed. */
  loopDepth: number;
  /** The jump scope of the steps being parsed. */
  scope: JumpScope;
}

/** Where a step is, for templates' error messages. */
interface Where {
  step: string;
  line: number;
}

function routineScope(name: string): JumpScope {
  return { what: `the top level of ${name}` };
}

function lineOf(ctx: Ctx, node: Node | null | undefined): number {
  const offset = node?.range?.[0];
  return offset === undefined ? 0 : ctx.lines.linePos(offset).line;
}

/** A YAML node to a plain value, integers as bigint. */
function plain(node: Node | null | undefined): Value {
  if (node === null || node === undefined) return null;
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'number')
      return Number.isInteger(v) && !/[.eE]/.test(node.source ?? '') ? BigInt(v) : v;
    if (v === undefined) return null;
    return v as Value;
  }
  if (isSeq(node)) return node.items.map((n) => plain(n as Node));
  if (isYamlMap(node))
    return new Map(node.items.map((p) => [String(plain(p.key as Node)), plain(p.value as Node)]));
  return null;
}

function template(ctx: Ctx, node: Node | null | undefined, where: Where): Template {
  if (node && isScalar(node) && typeof node.value === 'string') {
    const inner = expressionText(node.value);
    if (inner !== undefined) {
      if (inner.length > MAX_EXPRESSION_LENGTH) {
        throw new DeployError(
          `expression longer than ${MAX_EXPRESSION_LENGTH} characters`,
          where.step,
          lineOf(ctx, node),
        );
      }
      try {
        const e = compileExpression(inner);
        const append = appendForm(inner);
        return append ? { k: 'expr', e, src: inner, append } : { k: 'expr', e, src: inner };
      } catch (err) {
        throw new DeployError(`${(err as Error).message}`, where.step, lineOf(ctx, node));
      }
    }
  }
  if (node && isSeq(node))
    return { k: 'list', items: node.items.map((n) => template(ctx, n as Node, where)) };
  if (node && isYamlMap(node)) {
    return {
      k: 'map',
      entries: node.items.map((p) => {
        const key = String(plain(p.key as Node));
        const value = template(ctx, p.value as Node, where);
        // A key may be an expression too: {"${name}": 1}.
        const dyn = template(ctx, p.key as Node, where);
        return dyn.k === 'expr' ? [key, value, dyn.e] : [key, value];
      }),
    };
  }
  return { k: 'const', v: plain(node) };
}

function parseTarget(text: string, step: string, line: number): Target {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(.*)$/s.exec(text.trim());
  if (!m) throw new DeployError(`invalid assignment target ${JSON.stringify(text)}`, step, line);
  const path: Target['path'] = [];
  let rest = m[2]!;
  while (rest.length > 0) {
    const dot = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
    if (dot) {
      path.push({ dot: dot[1]! });
      rest = rest.slice(dot[0].length);
      continue;
    }
    if (rest[0] === '[') {
      let depth = 0;
      let i = 0;
      for (; i < rest.length; i++) {
        if (rest[i] === '[') depth++;
        else if (rest[i] === ']' && --depth === 0) break;
      }
      if (i >= rest.length)
        throw new DeployError(
          `unbalanced [ in assignment target ${JSON.stringify(text)}`,
          step,
          line,
        );
      try {
        path.push({ index: compileExpression(rest.slice(1, i)) });
      } catch (err) {
        throw new DeployError((err as Error).message, step, line);
      }
      rest = rest.slice(i + 1);
      continue;
    }
    throw new DeployError(`invalid assignment target ${JSON.stringify(text)}`, step, line);
  }
  return { root: m[1]!, path };
}

function assignments(
  ctx: Ctx,
  node: Node | null | undefined,
  step: string,
  line: number,
): [Target, Template][] {
  if (!node || !isSeq(node))
    throw new DeployError('assign must be a list of single-key maps', step, line);
  if (node.items.length > MAX_ASSIGNMENTS) {
    throw new DeployError(
      `a step may make at most ${MAX_ASSIGNMENTS} assignments, this one makes ${node.items.length}`,
      step,
      line,
    );
  }
  return node.items.map((item) => {
    if (!isYamlMap(item) || item.items.length !== 1)
      throw new DeployError('each assignment is a single-key map', step, lineOf(ctx, item as Node));
    const pair = item.items[0]!;
    return [
      parseTarget(String(plain(pair.key as Node)), step, lineOf(ctx, item as Node)),
      template(ctx, pair.value as Node, { step, line }),
    ];
  });
}

function nameOf(node: Node | null | undefined, what: string, step: string, line: number): string {
  if (!node || !isScalar(node) || typeof node.value !== 'string')
    throw new DeployError(`${what} must be a name`, step, line);
  return node.value;
}

function get(map: YAMLMap, key: string): Node | undefined {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return pair ? ((pair.value as Node | null) ?? undefined) : undefined;
}

function has(map: YAMLMap, key: string): boolean {
  return map.items.some((p) => isScalar(p.key) && p.key.value === key);
}
function steps(ctx: Ctx, node: Node | null | undefined, where: string, line: number): Step[] {
  if (!node || !isSeq(node))
    throw new DeployError(`${where} must be a list of steps`, undefined, line);
  return namedItems(ctx, node, 'a step', undefined, (name, value, itemLine) =>
    parseStep(ctx, name, value, itemLine),
  );
}

/** Each item of a list of steps or branches: a map with one key, its name, registered as a step. */
function namedItems<T>(
  ctx: Ctx,
  list: YAMLSeq,
  what: string,
  owner: string | undefined,
  make: (name: string, value: Node, line: number) => T,
): T[] {
  return list.items.map((item) => {
    const itemLine = lineOf(ctx, item as Node);
    if (!isYamlMap(item) || item.items.length !== 1)
      throw new DeployError(`${what} is a map with one key, its name`, owner, itemLine);
    const pair = item.items[0]!;
    const name = String(plain(pair.key as Node));
    registerStep(ctx, name, itemLine);
    return make(name, pair.value as Node, itemLine);
  });
}

/**
 * Step names are unique in a whole subworkflow, however deeply nested (Google's "Steps" and
 * "Variables" pages); inside a for loop, break and continue are jump targets, not names.
 */
function registerStep(ctx: Ctx, name: string, line: number): void {
  if (ctx.jumps.stepNames.has(name))
    throw new DeployError(
      `duplicate step name ${JSON.stringify(name)}: step names must be unique in ${ctx.routine}, nested steps included`,
      name,
      line,
    );
  if (ctx.loopDepth > 0 && (name === 'break' || name === 'continue'))
    throw new DeployError(
      `a step inside a for loop cannot be named ${name}: it is reserved for next: ${name}`,
      name,
      line,
    );
  ctx.jumps.stepNames.set(name, ctx.scope);
}

/** Parses steps that make a jump scope of their own: a loop body or a parallel branch. */
function inScope<T>(ctx: Ctx, what: string, parse: () => T): T {
  const outer = ctx.scope;
  ctx.scope = { what };
  try {
    return parse();
  } finally {
    ctx.scope = outer;
  }
}

/** Parallel branches: each one a named step whose steps form a jump scope of their own. */
function branchSteps(ctx: Ctx, node: Node | null | undefined, name: string, line: number): Step[] {
  if (!node || !isSeq(node))
    throw new DeployError('parallel branches must be a list of steps', name, line);
  return namedItems(ctx, node, 'a branch', name, (branch, value, itemLine) =>
    inScope(ctx, `the parallel branch "${branch}"`, () => parseStep(ctx, branch, value, itemLine)),
  );
}

/** A step kind's parser: the step's map, its name and line; returns the step's body. */
type KindParser = (ctx: Ctx, node: YAMLMap, name: string, line: number) => StepBody;

const kindParsers: Record<StepKind, KindParser> = {
  assign: parseAssign,
  call: parseCall,
  switch: parseSwitch,
  for: (ctx, node, name, line) => parseFor(ctx, get(node, 'for'), name, line),
  parallel: parseParallel,
  try: parseTry,
  raise: parseRaise,
  return: parseReturn,
  steps: parseSteps,
};

/** One step: its fields checked, its `next` recorded, its body parsed by its kind's parser. */
function parseStep(ctx: Ctx, name: string, node: Node | null | undefined, line: number): Step {
  if (!node || !isYamlMap(node)) throw new DeployError('a step body must be a map', name, line);
  for (const p of node.items) {
    const key = String(plain(p.key as Node));
    if (!STEP_KEYS.has(key))
      throw new DeployError(
        `unknown step field ${JSON.stringify(key)}`,
        name,
        lineOf(ctx, p.key as Node),
      );
  }
  const nextNode = get(node, 'next');
  const next = nextNode === undefined ? null : nameOf(nextNode, 'next', name, line);
  if (next) pushNext(ctx, next, name, line);
  const kinds = STEP_KINDS.filter((k) => has(node, k));
  if (kinds.length > 1) {
    throw new DeployError(`a step has one kind, this one has ${kinds.join(' and ')}`, name, line);
  }
  const kind = kinds[0];
  const body = kind ? kindParsers[kind](ctx, node, name, line) : parseNone(node, name, line);
  return { name, line, body, next };
}

/** A step with no kind (only `next`): fields that belong to a kind are refused. */
function parseNone(node: YAMLMap, name: string, line: number): StepBody {
  if (has(node, 'args') || has(node, 'result'))
    throw new DeployError('args and result need a call', name, line);
  if (has(node, 'retry') || has(node, 'except'))
    throw new DeployError('retry and except need a try', name, line);
  return { kind: 'none' };
}

function parseAssign(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  return { kind: 'assign', assign: assignments(ctx, get(node, 'assign'), name, line) };
}

function parseCall(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  const argsNode = get(node, 'args');
  if (argsNode && !isYamlMap(argsNode)) throw new DeployError('args must be a map', name, line);
  const resultNode = get(node, 'result');
  const w = { step: name, line };
  return {
    kind: 'call',
    fn: nameOf(get(node, 'call'), 'call', name, line),
    args:
      argsNode && isYamlMap(argsNode)
        ? argsNode.items.map((p) => [
            String(plain(p.key as Node)),
            template(ctx, p.value as Node, w),
          ])
        : null,
    result: resultNode === undefined ? null : nameOf(resultNode, 'result', name, line),
  };
}

function parseSwitch(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  const list = get(node, 'switch');
  if (!list || !isSeq(list) || list.items.length === 0)
    throw new DeployError('switch must be a non-empty list of conditions', name, line);
  if (list.items.length > MAX_SWITCH_CONDITIONS)
    throw new DeployError(
      `a switch has at most ${MAX_SWITCH_CONDITIONS} conditions, found ${list.items.length}`,
      name,
      line,
    );
  return { kind: 'switch', cases: list.items.map((c) => parseCase(ctx, c as Node, name, line)) };
}

/** One switch case: a condition, then what it does (steps, next, return, raise, assign). */
function parseCase(ctx: Ctx, c: Node, name: string, line: number): SwitchCase {
  const cl = lineOf(ctx, c);
  if (!isYamlMap(c) || !has(c, 'condition'))
    throw new DeployError('each switch case needs a condition', name, cl);
  const w = { step: name, line };
  const n = get(c, 'next');
  const target = n === undefined ? null : nameOf(n, 'next', name, cl);
  if (target) pushNext(ctx, target, name, cl);
  return {
    condition: template(ctx, get(c, 'condition'), w),
    next: target,
    steps: has(c, 'steps') ? steps(ctx, get(c, 'steps'), `${name} switch steps`, cl) : null,
    ret: has(c, 'return') ? template(ctx, get(c, 'return'), w) : null,
    hasReturn: has(c, 'return'),
    raise: has(c, 'raise') ? template(ctx, get(c, 'raise'), w) : null,
    assign: has(c, 'assign') ? assignments(ctx, get(c, 'assign'), name, cl) : null,
  };
}

/** A `for` step's map (also a parallel step's `for`). */
function parseFor(ctx: Ctx, node: Node | null | undefined, name: string, line: number): StepBody {
  if (!node || !isYamlMap(node)) throw new DeployError('for must be a map', name, line);
  const w = { step: name, line };
  const rangeNode = get(node, 'range');
  const inNode = get(node, 'in');
  if (!rangeNode === !inNode)
    throw new DeployError('for needs exactly one of in or range', name, line);
  let range: Template | null = null;
  if (rangeNode) {
    range = template(ctx, rangeNode, w);
    // A literal list is checked now; an expression is checked when the loop starts.
    if (range.k !== 'expr' && (range.k !== 'list' || range.items.length !== 2))
      throw new DeployError('range must be a list of two numbers, [begin, end]', name, line);
  }
  const indexNode = get(node, 'index');
  return {
    kind: 'for',
    value: nameOf(get(node, 'value'), 'for.value', name, line),
    index: indexNode === undefined ? null : nameOf(indexNode, 'for.index', name, line),
    in: inNode ? template(ctx, inNode, w) : null,
    range,
    steps: inScope(ctx, `the for loop "${name}"`, () =>
      loopSteps(ctx, get(node, 'steps'), `${name} for steps`, line),
    ),
  };
}

function loopSteps(ctx: Ctx, node: Node | null | undefined, what: string, line: number): Step[] {
  ctx.loopDepth++;
  try {
    return steps(ctx, node, what, line);
  } finally {
    ctx.loopDepth--;
  }
}

function parseParallel(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  const p = get(node, 'parallel');
  if (!p || !isYamlMap(p)) throw new DeployError('parallel must be a map', name, line);
  const sharedNode = get(p, 'shared');
  const shared =
    sharedNode && isSeq(sharedNode) ? sharedNode.items.map((s) => String(plain(s as Node))) : [];
  const policy = get(p, 'exception_policy');
  const branchesNode = get(p, 'branches');
  const forNode = get(p, 'for');
  if (!branchesNode === !forNode)
    throw new DeployError('parallel needs exactly one of branches or for', name, line);
  if (branchesNode && isSeq(branchesNode) && branchesNode.items.length > MAX_PARALLEL_BRANCHES) {
    throw new DeployError(`parallel has at most ${MAX_PARALLEL_BRANCHES} branches`, name, line);
  }
  if (policy !== undefined && !['continueAll', 'unhandled'].includes(String(plain(policy))))
    throw new DeployError(
      `exception_policy must be continueAll, found ${JSON.stringify(plain(policy))}`,
      name,
      line,
    );
  return {
    kind: 'parallel',
    shared,
    ...concurrencyLimit(ctx, get(p, 'concurrency_limit'), name, line),
    // Google documents continueAll as the default and the only policy it supports.
    policy: policy !== undefined && plain(policy) === 'unhandled' ? 'unhandled' : 'continueAll',
    branches: branchesNode ? branchSteps(ctx, branchesNode, name, line) : null,
    for: forNode ? parseFor(ctx, forNode, name, line) : null,
  };
}

/** `concurrency_limit`: a positive integer now, or an expression evaluated when the step starts. */
function concurrencyLimit(
  ctx: Ctx,
  limit: Node | undefined,
  name: string,
  line: number,
): { concurrencyLimit: number | null; concurrencyLimitExpr?: Template } {
  if (limit === undefined) return { concurrencyLimit: null };
  const t = template(ctx, limit, { step: name, line });
  if (t.k === 'expr') return { concurrencyLimit: null, concurrencyLimitExpr: t };
  const n = plain(limit);
  if (typeof n !== 'bigint' || n < 1n)
    throw new DeployError('concurrency_limit must be a positive integer', name, line);
  return { concurrencyLimit: Number(n) };
}

function parseTry(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  const tryNode = get(node, 'try');
  const body =
    tryNode && isYamlMap(tryNode) && has(tryNode, 'steps')
      ? steps(ctx, get(tryNode, 'steps'), `${name} try`, line)
      : [parseStep(ctx, `${name}`, tryNode, line)];
  const exceptNode = get(node, 'except');
  let exceptAs: string | null = null;
  let except: Step[] | null = null;
  if (exceptNode) {
    if (!isYamlMap(exceptNode))
      throw new DeployError('except must be a map with as and steps', name, line);
    const asNode = get(exceptNode, 'as');
    exceptAs = asNode === undefined ? null : nameOf(asNode, 'except.as', name, line);
    except = steps(ctx, get(exceptNode, 'steps'), `${name} except`, line);
  }
  return {
    kind: 'try',
    body,
    retry: has(node, 'retry') ? retryPolicy(ctx, get(node, 'retry'), name, line) : null,
    exceptAs,
    except,
  };
}

function parseRaise(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  return { kind: 'raise', value: template(ctx, get(node, 'raise'), { step: name, line }) };
}

function parseReturn(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  return { kind: 'return', value: template(ctx, get(node, 'return'), { step: name, line }) };
}

function parseSteps(ctx: Ctx, node: YAMLMap, name: string, line: number): StepBody {
  return { kind: 'steps', steps: steps(ctx, get(node, 'steps'), `${name} steps`, line) };
}

/** break and continue only mean something inside a for loop of the same routine. */
function pushNext(ctx: Ctx, target: string, step: string, line: number) {
  if ((target === 'break' || target === 'continue') && ctx.loopDepth === 0)
    throw new DeployError(`next: ${target} is only allowed inside a for loop`, step, line);
  ctx.jumps.nexts.push({ target, step, line, scope: ctx.scope });
}

const constant = (v: Value): Template => ({ k: 'const', v });

function retryPolicy(
  ctx: Ctx,
  node: Node | null | undefined,
  name: string,
  line: number,
): RetryPolicy {
  if (node && isScalar(node) && typeof node.value === 'string')
    return predefinedPolicy(node.value, name, line);
  if (!node || !isYamlMap(node)) throw new DeployError('retry must be a map', name, line);
  const predNode = get(node, 'predicate');
  const pred =
    predNode && isScalar(predNode) && typeof predNode.value === 'string'
      ? expressionText(predNode.value)?.trim()
      : undefined;
  if (!pred) throw new DeployError('retry.predicate must be ${predicate}', name, line);
  const w = { step: name, line };
  const backoff = backoffMap(get(node, 'backoff'), name, line);
  const b = (k: string, d: Value): Template =>
    backoff && has(backoff, k) ? template(ctx, get(backoff, k), w) : constant(d);
  return {
    predicate: pred,
    maxRetries: has(node, 'max_retries')
      ? template(ctx, get(node, 'max_retries'), w)
      : constant(5n),
    initialDelay: b('initial_delay', 1),
    maxDelay: b('max_delay', 60),
    multiplier: b('multiplier', 1.25),
  };
}

/** A predefined policy such as `${http.default_retry}`: its predicate and the default backoff. */
function predefinedPolicy(text: string, name: string, line: number): RetryPolicy {
  const ref = expressionText(text);
  if (ref === undefined)
    throw new DeployError('retry must be a policy map or ${policy}', name, line);
  const predicate = ref.trim().replace(/_retry(_non_idempotent)?$/, '_retry_predicate$1');
  return {
    predicate,
    maxRetries: constant(5n),
    initialDelay: constant(1),
    maxDelay: constant(60),
    multiplier: constant(1.25),
  };
}

/**
 * `backoff`: a map, or left out or `${retry.default_backoff}`, the documented default object
 * (1 s, at most 60 s, x 1.25), for which this returns undefined.
 */
function backoffMap(backoff: Node | undefined, name: string, line: number): YAMLMap | undefined {
  if (backoff && isYamlMap(backoff)) return backoff;
  const named =
    backoff && isScalar(backoff) && typeof backoff.value === 'string'
      ? expressionText(backoff.value)?.trim()
      : undefined;
  if (backoff && named !== 'retry.default_backoff')
    throw new DeployError(
      'retry.backoff must be a map of initial_delay, max_delay and multiplier, or ${retry.default_backoff}',
      name,
      line,
    );
  return undefined;
}

/** A subworkflow of the map form: `params` and `steps`. */
function parseRoutine(
  ctx: Ctx,
  name: string,
  node: Node | null | undefined,
  line: number,
): Routine {
  if (!node || !isYamlMap(node))
    throw new DeployError(
      `subworkflow ${name} must be a map with params and steps`,
      undefined,
      line,
    );
  for (const p of node.items) {
    const key = String(plain(p.key as Node));
    if (key !== 'params' && key !== 'steps')
      throw new DeployError(
        `unknown field ${JSON.stringify(key)} in subworkflow ${name}`,
        undefined,
        lineOf(ctx, p.key as Node),
      );
  }
  const params = parseParams(ctx, get(node, 'params'), name, line);
  ctx.routine = name;
  ctx.scope = routineScope(name);
  return { name, params, steps: routineSteps(ctx, get(node, 'steps'), `steps of ${name}`, line) };
}

/** `params`: names, or single-key maps giving a default. */
function parseParams(
  ctx: Ctx,
  paramsNode: Node | undefined,
  name: string,
  line: number,
): Routine['params'] {
  const params: Routine['params'] = [];
  if (!paramsNode) return params;
  if (!isSeq(paramsNode))
    throw new DeployError(`params of ${name} must be a list`, undefined, line);
  for (const p of paramsNode.items) {
    if (isScalar(p)) params.push({ name: String(p.value) });
    else if (isYamlMap(p) && p.items.length === 1) {
      const pair = p.items[0]!;
      params.push({
        name: String(plain(pair.key as Node)),
        default: template(ctx, pair.value as Node, { step: name, line }),
      });
    } else throw new DeployError(`bad parameter in ${name}`, undefined, lineOf(ctx, p as Node));
  }
  return params;
}

/** A routine's steps: Google's "Steps" page says every workflow must have at least one step. */
function routineSteps(ctx: Ctx, node: Node | null | undefined, where: string, line: number) {
  const list = steps(ctx, node, where, line);
  if (list.length === 0)
    throw new DeployError(`${where} must have at least one step`, undefined, line);
  return list;
}

/** Parses and validates a definition; throws DeployError naming the step and line. */
export function parseWorkflow(source: string, options: { file?: string } = {}): Workflow {
  const prefix = options.file ? `${options.file}: ` : '';
  try {
    if (Buffer.byteLength(source) > MAX_SOURCE_BYTES)
      throw new DeployError(`the definition is larger than ${MAX_SOURCE_BYTES} bytes`);
    const lines = new LineCounter();
    const root = yamlRoot(source, lines);
    const ctx: Ctx = {
      lines,
      routine: 'main',
      jumps: { stepNames: new Map(), nexts: [] },
      loopDepth: 0,
      scope: routineScope('main'),
    };
    const { main, routines } = parseRoutines(ctx, root);
    for (const r of routines.size > 0 ? routines.values() : [main]) checkCallTargets(r, routines);
    return { main, routines, source };
  } catch (err) {
    throw located(err, prefix);
  }
}

/** The definition's YAML document; a syntax error is a DeployError with its line. */
function yamlRoot(source: string, lines: LineCounter): Node | null {
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true, intAsBigInt: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const message = e.message.includes('Maximum call stack')
      ? 'the definition is nested too deeply to parse'
      : e.message.split('\n')[0]!;
    throw new DeployError(message, undefined, e.linePos?.[0]?.line);
  }
  return doc.contents as Node | null;
}

/** The list form (main's steps) or the map form (main and subworkflows), each one validated. */
function parseRoutines(
  ctx: Ctx,
  root: Node | null,
): { main: Routine; routines: Map<string, Routine> } {
  const routines = new Map<string, Routine>();
  if (root && isSeq(root)) {
    const main = { name: 'main', params: [], steps: routineSteps(ctx, root, 'the workflow', 1) };
    validateRoutine(main, ctx.jumps, new Set(['main']));
    return { main, routines };
  }
  if (!root || !isYamlMap(root) || !has(root, 'main'))
    throw new DeployError(
      'a workflow is a list of steps, or a map with a main subworkflow',
      undefined,
      1,
    );
  const names = new Set(root.items.map((pair) => String(plain(pair.key as Node))));
  for (const pair of root.items) {
    const name = String(plain(pair.key as Node));
    ctx.jumps = { stepNames: new Map(), nexts: [] };
    const r = parseRoutine(ctx, name, pair.value as Node, lineOf(ctx, pair.key as Node));
    validateRoutine(r, ctx.jumps, names);
    routines.set(name, r);
  }
  const main = routines.get('main')!;
  if (main.params.length > 1)
    throw new DeployError('main takes at most one parameter, the runtime argument', undefined, 1);
  return { main, routines };
}

/** Any error of parsing as a DeployError whose message names the file, step and line. */
function located(err: unknown, prefix: string): DeployError {
  if (err instanceof DeployError) {
    const where = [err.step ? `step "${err.step}"` : '', err.line ? `line ${err.line}` : '']
      .filter(Boolean)
      .join(', ');
    return new DeployError(
      `${prefix}${where ? `${where}: ` : ''}${err.message}`,
      err.step,
      err.line,
    );
  }
  if (err instanceof RangeError)
    return new DeployError(`${prefix}the definition is nested too deeply to parse`);
  return new DeployError(`${prefix}${(err as Error).message}`);
}
