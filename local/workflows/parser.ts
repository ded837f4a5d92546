// Parses a workflow definition (YAML or JSON) into routines of steps, compiling every expression,
// and validates it the way deploying to Google does, before anything runs.
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
import { compileExpression, expressionText, MAX_EXPRESSION_LENGTH, namesIn } from './expression.ts';
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
import type { Value } from './values.ts';

export class DeployError extends Error {
  override name = 'DeployError';
  readonly code = 'INVALID_ARGUMENT';
  constructor(
    message: string,
    readonly step?: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

const STEP_KEYS = new Set([
  'assign',
  'call',
  'args',
  'result',
  'switch',
  'next',
  'for',
  'parallel',
  'try',
  'retry',
  'except',
  'raise',
  'return',
  'steps',
]);
const MAX_ASSIGNMENTS = 50;
const MAX_SWITCH_CONDITIONS = 50;
export const MAX_SOURCE_BYTES = 128 * 1024;

interface Ctx {
  lines: LineCounter;
  routine: string;
  /** Every step name of the routine being parsed, with the jump scope it is in. */
  stepNames: Map<string, JumpScope>;
  nexts: { target: string; step: string; line: number; scope: JumpScope }[];
  /** How many for loops enclose the steps being parsed. */
  loopDepth: number;
  /** The jump scope of the steps being parsed. */
  scope: JumpScope;
}

/**
 * Where `next` may go: the routine's steps are one scope, and the body of each for loop (parallel
 * or not) and of each parallel branch is a scope of its own. A jump stays inside its scope
 * (Google's "Iteration" page: no jumping into or out of a for loop, nor between two loops).
 */
interface JumpScope {
  /** What the scope is, for messages: `the for loop "name"`. */
  what: string;
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

function template(
  ctx: Ctx,
  node: Node | null | undefined,
  where: { step: string; line: number },
): Template {
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
        return { k: 'expr', e: compileExpression(inner), src: inner };
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
    step(ctx, name, value, itemLine),
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
  if (ctx.stepNames.has(name))
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
  ctx.stepNames.set(name, ctx.scope);
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
    inScope(ctx, `the parallel branch "${branch}"`, () => step(ctx, branch, value, itemLine)),
  );
}

function step(ctx: Ctx, name: string, node: Node | null | undefined, line: number): Step {
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
  const kinds = [
    'assign',
    'call',
    'switch',
    'for',
    'parallel',
    'try',
    'raise',
    'return',
    'steps',
  ].filter((k) => has(node, k));
  if (kinds.length > 1) {
    throw new DeployError(`a step has one kind, this one has ${kinds.join(' and ')}`, name, line);
  }
  const w = { step: name, line };
  let body: StepBody = { kind: 'none' };
  switch (kinds[0]) {
    case 'assign':
      body = { kind: 'assign', assign: assignments(ctx, get(node, 'assign'), name, line) };
      break;
    case 'call': {
      const argsNode = get(node, 'args');
      if (argsNode && !isYamlMap(argsNode)) throw new DeployError('args must be a map', name, line);
      const resultNode = get(node, 'result');
      body = {
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
      break;
    }
    case 'switch': {
      const list = get(node, 'switch');
      if (!list || !isSeq(list) || list.items.length === 0)
        throw new DeployError('switch must be a non-empty list of conditions', name, line);
      if (list.items.length > MAX_SWITCH_CONDITIONS)
        throw new DeployError(
          `a switch has at most ${MAX_SWITCH_CONDITIONS} conditions, found ${list.items.length}`,
          name,
          line,
        );
      const cases: SwitchCase[] = list.items.map((c) => {
        const cl = lineOf(ctx, c as Node);
        if (!isYamlMap(c) || !has(c, 'condition'))
          throw new DeployError('each switch case needs a condition', name, cl);
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
      });
      body = { kind: 'switch', cases };
      break;
    }
    case 'for':
      body = forBody(ctx, get(node, 'for'), name, line);
      break;
    case 'parallel': {
      const p = get(node, 'parallel');
      if (!p || !isYamlMap(p)) throw new DeployError('parallel must be a map', name, line);
      const sharedNode = get(p, 'shared');
      const shared =
        sharedNode && isSeq(sharedNode)
          ? sharedNode.items.map((s) => String(plain(s as Node)))
          : [];
      const limit = get(p, 'concurrency_limit');
      const policy = get(p, 'exception_policy');
      const branchesNode = get(p, 'branches');
      const forNode = get(p, 'for');
      if (!branchesNode === !forNode)
        throw new DeployError('parallel needs exactly one of branches or for', name, line);
      if (branchesNode && isSeq(branchesNode) && branchesNode.items.length > 10) {
        throw new DeployError('parallel has at most 10 branches', name, line);
      }
      if (policy !== undefined && !['continueAll', 'unhandled'].includes(String(plain(policy))))
        throw new DeployError(
          `exception_policy must be continueAll, found ${JSON.stringify(plain(policy))}`,
          name,
          line,
        );
      const limitTemplate = limit === undefined ? undefined : template(ctx, limit, w);
      if (limitTemplate && limitTemplate.k !== 'expr') {
        const n = plain(limit);
        if (typeof n !== 'bigint' || n < 1n)
          throw new DeployError('concurrency_limit must be a positive integer', name, line);
      }
      body = {
        kind: 'parallel',
        shared,
        concurrencyLimit:
          limit === undefined || limitTemplate?.k === 'expr' ? null : Number(plain(limit)),
        ...(limitTemplate?.k === 'expr' ? { concurrencyLimitExpr: limitTemplate } : {}),
        // Google documents continueAll as the default and the only policy it supports.
        policy: policy !== undefined && plain(policy) === 'unhandled' ? 'unhandled' : 'continueAll',
        branches: branchesNode ? branchSteps(ctx, branchesNode, name, line) : null,
        for: forNode ? forBody(ctx, forNode, name, line) : null,
      };
      break;
    }
    case 'try': {
      const tryNode = get(node, 'try');
      const body0 =
        tryNode && isYamlMap(tryNode) && has(tryNode, 'steps')
          ? steps(ctx, get(tryNode, 'steps'), `${name} try`, line)
          : [step(ctx, `${name}`, tryNode, line)];
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
      body = {
        kind: 'try',
        body: body0,
        retry: has(node, 'retry') ? retryPolicy(ctx, get(node, 'retry'), name, line) : null,
        exceptAs,
        except,
      };
      break;
    }
    case 'raise':
      body = { kind: 'raise', value: template(ctx, get(node, 'raise'), w) };
      break;
    case 'return':
      body = { kind: 'return', value: template(ctx, get(node, 'return'), w) };
      break;
    case 'steps':
      body = { kind: 'steps', steps: steps(ctx, get(node, 'steps'), `${name} steps`, line) };
      break;
    default:
      if (has(node, 'args') || has(node, 'result'))
        throw new DeployError('args and result need a call', name, line);
      if (has(node, 'retry') || has(node, 'except'))
        throw new DeployError('retry and except need a try', name, line);
  }
  return { name, line, body, next };
}

/** break and continue only mean something inside a for loop of the same routine. */
function pushNext(ctx: Ctx, target: string, step: string, line: number) {
  if ((target === 'break' || target === 'continue') && ctx.loopDepth === 0)
    throw new DeployError(`next: ${target} is only allowed inside a for loop`, step, line);
  ctx.nexts.push({ target, step, line, scope: ctx.scope });
}

function loopSteps(ctx: Ctx, node: Node | null | undefined, what: string, line: number): Step[] {
  ctx.loopDepth++;
  try {
    return steps(ctx, node, what, line);
  } finally {
    ctx.loopDepth--;
  }
}

function forBody(ctx: Ctx, node: Node | null | undefined, name: string, line: number): StepBody {
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

function retryPolicy(
  ctx: Ctx,
  node: Node | null | undefined,
  name: string,
  line: number,
): RetryPolicy {
  const w = { step: name, line };
  const c = (v: Value): Template => ({ k: 'const', v });
  if (node && isScalar(node) && typeof node.value === 'string') {
    const ref = expressionText(node.value);
    if (ref === undefined)
      throw new DeployError('retry must be a policy map or ${policy}', name, line);
    // A predefined policy such as ${http.default_retry}: its predicate and backoff.
    const predicate = ref.trim().replace(/_retry(_non_idempotent)?$/, '_retry_predicate$1');
    return {
      predicate,
      maxRetries: c(5n),
      initialDelay: c(1),
      maxDelay: c(60),
      multiplier: c(1.25),
    };
  }
  if (!node || !isYamlMap(node)) throw new DeployError('retry must be a map', name, line);
  const predNode = get(node, 'predicate');
  const pred =
    predNode && isScalar(predNode) && typeof predNode.value === 'string'
      ? expressionText(predNode.value)?.trim()
      : undefined;
  if (!pred) throw new DeployError('retry.predicate must be ${predicate}', name, line);
  const backoff = get(node, 'backoff');
  // Left out, or `${retry.default_backoff}`, the documented default object: 1 s, at most 60 s, × 1.25.
  const named =
    backoff && isScalar(backoff) && typeof backoff.value === 'string'
      ? expressionText(backoff.value)?.trim()
      : undefined;
  if (backoff && !isYamlMap(backoff) && named !== 'retry.default_backoff')
    throw new DeployError(
      'retry.backoff must be a map of initial_delay, max_delay and multiplier, or ${retry.default_backoff}',
      name,
      line,
    );
  const b = (k: string, d: Value): Template =>
    backoff && isYamlMap(backoff) && has(backoff, k) ? template(ctx, get(backoff, k), w) : c(d);
  return {
    predicate: pred,
    maxRetries: has(node, 'max_retries') ? template(ctx, get(node, 'max_retries'), w) : c(5n),
    initialDelay: b('initial_delay', 1),
    maxDelay: b('max_delay', 60),
    multiplier: b('multiplier', 1.25),
  };
}

function routine(ctx: Ctx, name: string, node: Node | null | undefined, line: number): Routine {
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
  const paramsNode = get(node, 'params');
  const params: Routine['params'] = [];
  if (paramsNode) {
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
  }
  ctx.routine = name;
  ctx.scope = routineScope(name);
  return { name, params, steps: routineSteps(ctx, get(node, 'steps'), `steps of ${name}`, line) };
}

/** A routine's steps: Google's "Steps" page says every workflow must have at least one step. */
function routineSteps(ctx: Ctx, node: Node | null | undefined, where: string, line: number) {
  const list = steps(ctx, node, where, line);
  if (list.length === 0)
    throw new DeployError(`${where} must have at least one step`, undefined, line);
  return list;
}

function checkNexts(ctx: Ctx) {
  for (const n of ctx.nexts) {
    if (['end', 'break', 'continue'].includes(n.target)) continue;
    const scope = ctx.stepNames.get(n.target);
    if (!scope)
      throw new DeployError(`next: ${n.target} names no step in ${ctx.routine}`, n.step, n.line);
    if (scope !== n.scope)
      throw new DeployError(
        `next: ${n.target} names a step in ${scope.what}, but this step is in ${n.scope.what}; a jump cannot enter or leave a for loop or parallel branch`,
        n.step,
        n.line,
      );
  }
  ctx.nexts = [];
  ctx.stepNames = new Map();
}

/** The variables a step writes at its own level (assign targets, call results). */
function writesOf(step: Step): string[] {
  const b = step.body;
  if (b.kind === 'assign') return b.assign.map(([t]) => t.root);
  if (b.kind === 'call') return b.result ? [b.result] : [];
  if (b.kind === 'switch') return b.cases.flatMap((c) => (c.assign ?? []).map(([t]) => t.root));
  return [];
}

/**
 * A parallel branch may write a variable of the enclosing scope only when the parallel step lists
 * it in `shared`. "Enclosing" here means declared (a parameter, or written by a step earlier in the
 * definition's order); a variable first assigned inside the branch is the branch's own.
 */
function checkSharedWrites(routine: Routine): void {
  const declared = new Set(routine.params.map((p) => p.name));
  const walk = (list: Step[], outer: Set<string>, shared: Set<string> | null) => {
    for (const step of list) {
      if (shared) {
        for (const v of writesOf(step)) {
          if (outer.has(v) && !shared.has(v))
            throw new DeployError(
              `variable ${JSON.stringify(v)} of the enclosing scope is written in a parallel branch but is not in shared`,
              step.name,
              step.line,
            );
        }
      } else for (const v of writesOf(step)) outer.add(v);
      const b = step.body;
      if (b.kind === 'parallel') {
        // Inside the branches, everything declared so far is enclosing scope.
        const inner = new Set(b.shared);
        const scope = new Set(outer);
        if (b.branches) walk(b.branches, scope, inner);
        if (b.for && b.for.kind === 'for') walk(b.for.steps, scope, inner);
        continue;
      }
      if (b.kind === 'steps') walk(b.steps, outer, shared);
      else if (b.kind === 'for') walk(b.steps, outer, shared);
      else if (b.kind === 'switch') {
        for (const c of b.cases) if (c.steps) walk(c.steps, outer, shared);
      } else if (b.kind === 'try') {
        walk(b.body, outer, shared);
        if (b.except) walk(b.except, outer, shared);
      }
    }
  };
  walk(routine.steps, declared, null);
}

/**
 * A variable scope for the deploy-time check below: the routine, a for loop body (parallel or
 * not), an except block, a parallel branch. `names` holds every variable a step of the scope
 * writes, which includes writes to variables of enclosing scopes.
 */
interface VarScope {
  parent: VarScope | null;
  names: Set<string>;
  /** What the block is, for messages; null for the routine itself. */
  block: string | null;
}

interface VarRead {
  name: string;
  scope: VarScope;
  step: string;
  line: number;
}

/** The expression texts of a template, nested lists and maps (and dynamic keys) included. */
function expressionsOf(t: Template | null | undefined, out: string[] = []): string[] {
  if (!t) return out;
  if (t.k === 'expr') out.push(t.src);
  else if (t.k === 'list') for (const x of t.items) expressionsOf(x, out);
  else if (t.k === 'map')
    for (const [key, value, dynamic] of t.entries) {
      const keyText = dynamic ? expressionText(key) : undefined;
      if (keyText !== undefined) out.push(keyText);
      expressionsOf(value, out);
    }
  return out;
}

/** Walks a routine collecting its variable scopes and every variable read, with where it is. */
class ScopeWalk {
  readonly scopes: VarScope[] = [];
  readonly reads: VarRead[] = [];
  /** Functions called in expressions, with the step that calls them (`reads` reuses the shape). */
  readonly calls: VarRead[] = [];

  scope(parent: VarScope | null, names: string[], block: string | null): VarScope {
    const s: VarScope = { parent, names: new Set(names), block };
    this.scopes.push(s);
    return s;
  }

  private read(s: VarScope, step: Step, templates: (Template | null | undefined)[]): void {
    for (const t of templates)
      for (const src of expressionsOf(t)) {
        const { variables, functions } = namesIn(src);
        for (const name of variables)
          this.reads.push({ name, scope: s, step: step.name, line: step.line });
        for (const name of functions)
          this.calls.push({ name, scope: s, step: step.name, line: step.line });
      }
  }

  private assigns(s: VarScope, step: Step, list: [Target, Template][]): void {
    for (const [target, value] of list) {
      s.names.add(target.root);
      this.read(s, step, [value]);
    }
  }

  steps(list: Step[], s: VarScope): void {
    for (const step of list) this.step(step, s);
  }

  private step(step: Step, s: VarScope): void {
    const b = step.body;
    switch (b.kind) {
      case 'assign':
        this.assigns(s, step, b.assign);
        break;
      case 'call':
        this.read(
          s,
          step,
          (b.args ?? []).map(([, t]) => t),
        );
        if (b.result) s.names.add(b.result);
        break;
      case 'raise':
      case 'return':
        this.read(s, step, [b.value]);
        break;
      case 'steps':
        this.steps(b.steps, s);
        break;
      case 'switch':
        for (const c of b.cases) {
          this.read(s, step, [c.condition, c.ret, c.raise]);
          if (c.assign) this.assigns(s, step, c.assign);
          if (c.steps) this.steps(c.steps, s);
        }
        break;
      case 'for':
        this.loop(step, b, s);
        break;
      case 'parallel':
        this.read(s, step, [b.concurrencyLimitExpr]);
        for (const branch of b.branches ?? [])
          this.step(branch, this.scope(s, [], `the parallel branch "${branch.name}"`));
        if (b.for?.kind === 'for') this.loop(step, b.for, s);
        break;
      case 'try': {
        this.steps(b.body, s);
        const r = b.retry;
        if (r) this.read(s, step, [r.maxRetries, r.initialDelay, r.maxDelay, r.multiplier]);
        const names = b.exceptAs ? [b.exceptAs] : [];
        if (b.except)
          this.steps(b.except, this.scope(s, names, `the except block of "${step.name}"`));
        break;
      }
    }
  }

  /** The loop's `in` or `range` is read outside it; its value and index exist only inside. */
  private loop(step: Step, b: Extract<StepBody, { kind: 'for' }>, s: VarScope): void {
    this.read(s, step, [b.in, b.range]);
    const names = b.index ? [b.value, b.index] : [b.value];
    this.steps(b.steps, this.scope(s, names, `the for loop "${step.name}"`));
  }
}

function visibleIn(name: string, s: VarScope | null): boolean {
  for (; s; s = s.parent) if (s.names.has(name)) return true;
  return false;
}

/**
 * A variable first assigned inside a for loop, an except block or a parallel branch belongs to
 * that block and is gone after it: reading it outside "will raise an error when deploying the
 * workflow" (Google's "Variables" page, Variable scope; the parallel_shared_variables sample calls
 * reading another branch's local a deployment error). The check is flow-insensitive, like jumps:
 * a variable the enclosing scopes assign anywhere is visible.
 *
 * A name that no step of the routine assigns at all (nor a parameter, nor a subworkflow) is a
 * deploy error too: Google's "Troubleshoot issues" page lists "referencing an undefined variable,
 * step, or subworkflow" among deployment errors and quotes the message used here. A plain-name
 * function an expression calls must likewise be a subworkflow or an expression helper.
 */
function checkVariableScopes(routine: Routine, routineNames: ReadonlySet<string>): void {
  const walk = new ScopeWalk();
  const params = routine.params.map((p) => p.name);
  walk.steps(routine.steps, walk.scope(null, params, null));
  for (const r of walk.reads) {
    if (visibleIn(r.name, r.scope)) continue;
    const owner = walk.scopes.find(
      (s) => s.block && s.names.has(r.name) && !visibleIn(r.name, s.parent),
    );
    if (owner)
      throw new DeployError(
        `variable ${JSON.stringify(r.name)} is not defined here: it exists only inside ${owner.block}; to read a value after that block, assign a variable before the block and set it inside`,
        r.step,
        r.line,
      );
    if (!routineNames.has(r.name) && !walk.scopes.some((s) => s.names.has(r.name)))
      throw new DeployError(
        `symbol '${r.name}' is neither a variable nor a sub-workflow name`,
        r.step,
        r.line,
      );
  }
  for (const c of walk.calls) {
    if (c.name.includes('.') || routineNames.has(c.name) || DOTLESS_FUNCTIONS.has(c.name)) continue;
    throw new DeployError(
      `${c.name}() is neither a subworkflow of this workflow nor a standard library function`,
      c.step,
      c.line,
    );
  }
}

// Library functions all live in a module (`http.get`, `sys.log`) except these expression helpers.
const DOTLESS_FUNCTIONS = new Set([
  'default',
  'double',
  'get_type',
  'if',
  'int',
  'keys',
  'len',
  'string',
]);

/** A `call` of a plain name must name a subworkflow of this definition (or a helper). */
function checkCallTargets(routine: Routine, routines: Map<string, Routine>): void {
  const walk = (list: Step[]) => {
    for (const step of list) {
      const b = step.body;
      if (
        b.kind === 'call' &&
        !b.fn.includes('.') &&
        !routines.has(b.fn) &&
        !DOTLESS_FUNCTIONS.has(b.fn)
      )
        throw new DeployError(
          `call: ${b.fn} names no subworkflow of this workflow`,
          step.name,
          step.line,
        );
      if (b.kind === 'steps' || b.kind === 'for') walk(b.steps);
      else if (b.kind === 'switch') for (const c of b.cases) walk(c.steps ?? []);
      else if (b.kind === 'try') {
        walk(b.body);
        walk(b.except ?? []);
      } else if (b.kind === 'parallel') {
        walk(b.branches ?? []);
        if (b.for?.kind === 'for') walk(b.for.steps);
      }
    }
  };
  walk(routine.steps);
}

/** Parses and validates a definition; throws DeployError naming the step and line. */
export function parseWorkflow(source: string, options: { file?: string } = {}): Workflow {
  const prefix = options.file ? `${options.file}: ` : '';
  try {
    if (Buffer.byteLength(source) > MAX_SOURCE_BYTES)
      throw new DeployError(`the definition is larger than ${MAX_SOURCE_BYTES} bytes`);
    const lines = new LineCounter();
    const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true, intAsBigInt: true });
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const message = e.message.includes('Maximum call stack')
        ? 'the definition is nested too deeply to parse'
        : e.message.split('\n')[0]!;
      throw new DeployError(message, undefined, e.linePos?.[0]?.line);
    }
    const ctx: Ctx = {
      lines,
      routine: 'main',
      stepNames: new Map(),
      nexts: [],
      loopDepth: 0,
      scope: routineScope('main'),
    };
    const root = doc.contents as Node | null;
    const routines = new Map<string, Routine>();
    let main: Routine;
    if (root && isSeq(root)) {
      main = { name: 'main', params: [], steps: routineSteps(ctx, root, 'the workflow', 1) };
      checkNexts(ctx);
      checkSharedWrites(main);
      checkVariableScopes(main, new Set(['main']));
    } else if (root && isYamlMap(root)) {
      if (!has(root, 'main'))
        throw new DeployError(
          'a workflow is a list of steps, or a map with a main subworkflow',
          undefined,
          1,
        );
      const names = new Set(root.items.map((pair) => String(plain(pair.key as Node))));
      for (const pair of root.items) {
        const name = String(plain(pair.key as Node));
        const r = routine(ctx, name, pair.value as Node, lineOf(ctx, pair.key as Node));
        checkNexts(ctx);
        checkSharedWrites(r);
        checkVariableScopes(r, names);
        routines.set(name, r);
      }
      main = routines.get('main')!;
      if (main.params.length > 1)
        throw new DeployError(
          'main takes at most one parameter, the runtime argument',
          undefined,
          1,
        );
    } else {
      throw new DeployError(
        'a workflow is a list of steps, or a map with a main subworkflow',
        undefined,
        1,
      );
    }
    for (const r of routines.size > 0 ? routines.values() : [main]) checkCallTargets(r, routines);
    return { main, routines, source };
  } catch (err) {
    if (err instanceof DeployError) {
      const where = [err.step ? `step "${err.step}"` : '', err.line ? `line ${err.line}` : '']
        .filter(Boolean)
        .join(', ');
      const e = new DeployError(
        `${prefix}${where ? `${where}: ` : ''}${err.message}`,
        err.step,
        err.line,
      );
      throw e;
    }
    if (err instanceof RangeError)
      throw new DeployError(`${prefix}the definition is nested too deeply to parse`);
    throw new DeployError(`${prefix}${(err as Error).message}`);
  }
}
