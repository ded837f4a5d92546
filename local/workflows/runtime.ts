// Runs a parsed workflow: scopes, control flow (next, break, continue, return), switch, for,
// try/retry/except, assignments and the size limits on variables; calls are in calls.ts and
// parallel steps in parallel.ts.
//
// Steps run synchronously for as long as they can: a step returns its outcome directly, and a
// Promise only when something must wait (a function that returns a promise, a sleep, a parallel
// step, a periodic yield). So a tight loop pays no promise per step, and a subworkflow can be
// called from an expression as long as it never waits.
//
// Billing, as we read Google's pricing page: every step that runs is one step, whether it
// succeeds or fails, and each retry attempt re-bills the steps it re-runs. Container steps count
// too (`for`, `switch`, `try`, `parallel`, a `steps` group, a parallel branch), then each step
// inside them. A `call` of a subworkflow or a standard-library function is internal; functions
// marked `external` (http.*, connectors) are external instead, and connectors bill their
// long-running-operation polls through CallContext.countSteps.
import { callFromExpression, cannotWait, retryPredicate, runCallStep } from './calls.ts';
import type { Compiled, Scope as ExprScope } from './expression.ts';
import { raise, WorkflowError } from './errors.ts';
import {
  afterStep,
  andThen,
  Cancelled,
  entry,
  type Flow,
  jumpTo,
  Landing,
  nextIndex,
  Return,
  type Sig,
} from './flow.ts';
import { runParallel } from './parallel.ts';
import type { CallContext, WfFunction } from './stdlib/types.ts';
import type { Routine, Step, StepBody, SwitchCase, Target, Template, Workflow } from './syntax.ts';
import {
  type Container,
  hasLongString,
  longestOf,
  ownRoot,
  ownsRoot,
  type Path,
  pushOwned,
  share,
  sizeOf,
  writePath,
} from './sharing.ts';
import { isList, isMap, typeName, type Value } from './values.ts';
import { Vars } from './vars.ts';

export interface Limits {
  maxSteps: number;
  maxCallDepth: number;
  maxParallelBranches: number;
  maxParallelDepth: number;
  /** Largest size of one variable's value, in bytes (strings counted by UTF-16 units). */
  maxVariableBytes: number;
  /** Longest string a variable may hold, in UTF-8 bytes (Google: 256 KB). */
  maxStringBytes: number;
  maxExpressionLength: number;
  /** Branches or iterations of one parallel step running at once. */
  maxConcurrentBranches: number;
}

export const defaultLimits: Limits = {
  maxSteps: 100_000,
  maxCallDepth: 20,
  maxParallelBranches: 10,
  maxParallelDepth: 2,
  maxVariableBytes: 512 * 1024,
  maxStringBytes: 256 * 1024,
  maxExpressionLength: 400,
  maxConcurrentBranches: 20,
};

export interface RuntimeHost {
  functions: (name: string) => WfFunction | undefined;
  ctx: CallContext;
  limits: Limits;
  steps: { internal: number; external: number };
  currentRoutine?: string;
  currentStepName?: string;
  currentLine?: number;
  cancelled: boolean;
  /** Call logging: 'all' logs each call, its return and its exception; 'errors' only exceptions. */
  callLog?: 'all' | 'errors';
}

type TryBody = Extract<StepBody, { kind: 'try' }>;
type ForBody = Extract<StepBody, { kind: 'for' }>;

/** How a routine ends when its steps run out: null, unless a jump found no target. */
function routineEnd(sig: Sig): Value {
  if (sig && sig.target !== 'end') raise('ValueError', `next: ${sig.target} has no target here`);
  return null;
}

/** A `return` thrown by a step is the routine's value; anything else goes on up. */
function returned(s: unknown): Value {
  if (s instanceof Return) return s.value;
  throw s;
}

/** After a switch case's steps: their own jump, else the case's `next`. */
function afterCase(sig: Sig, c: SwitchCase): Sig {
  return sig ?? (c.next ? jumpTo(c.next) : undefined);
}

/** The loop's outcome from one iteration's: break ends it, continue (or nothing) goes on. */
function loopSignal(sig: Sig): Sig | 'next' {
  if (!sig || sig.target === 'continue') return 'next';
  return sig.target === 'break' ? undefined : sig;
}

/** Executes one workflow; the members without `private` serve calls.ts and parallel.ts too. */
/** A `for`'s values, by position: a list's items, a map's keys, or a range counted on demand. */
export interface Items {
  readonly length: number;
  at(i: number): Value;
}

export class Runtime {
  private yieldCounter = 0;
  /** > 0 while a subworkflow runs inside an expression: it must finish without waiting. */
  syncOnly = 0;
  constructor(
    readonly wf: Workflow,
    readonly host: RuntimeHost,
  ) {}

  async runMain(argument: Value | undefined): Promise<Value> {
    const main = this.wf.main;
    const vars = new Vars(0, 0);
    // The argument is a variable like any other, so it obeys the same size limit.
    if (main.params[0]) this.store(vars, main.params[0].name, argument ?? null);
    return this.runRoutine(main, vars);
  }

  /** Runs a routine to its return value; synchronous while its steps are. */
  runRoutine(routine: Routine, vars: Vars): Value | Promise<Value> {
    if (vars.depth > this.host.limits.maxCallDepth)
      raise('RecursionError', `maximum call depth of ${this.host.limits.maxCallDepth} exceeded`);
    let r: Flow;
    try {
      r = this.runSteps(routine.steps, vars, routine.name);
    } catch (s) {
      return returned(s);
    }
    return r instanceof Promise ? r.then(routineEnd, returned) : routineEnd(r);
  }

  /**
   * Runs a list of steps from `start`, or from the step nested in it that `enter` names; returns
   * a Jump it could not resolve here (break, continue, end, a step outside the list).
   */
  runSteps(steps: Step[], vars: Vars, routine: string, start = 0, enter?: string): Flow {
    let i = start;
    let into = enter;
    if (into !== undefined) {
      const e = entry(steps, into);
      if (e === undefined) return jumpTo(into);
      if (typeof e === 'number') [i, into] = [e, undefined];
      else i = e.at;
    }
    while (i < steps.length) {
      const step = steps[i]!;
      const r =
        into === undefined
          ? this.runStep(step, vars, routine)
          : this.enterStep(step, vars, routine, into);
      into = undefined;
      if (r instanceof Promise) {
        const at = i;
        return r.then((sig) => {
          const n = nextIndex(steps, at, sig);
          if (typeof n === 'number') return this.runSteps(steps, vars, routine, n);
          return n instanceof Landing ? this.runSteps(steps, vars, routine, n.at, n.target) : n;
        });
      }
      const n = nextIndex(steps, i, r);
      if (typeof n === 'number') i = n;
      else if (n instanceof Landing) [i, into] = [n.at, n.target];
      else return n;
    }
    return undefined;
  }

  /** Runs a step by jumping to `target`, a step nested in it, instead of from its start. */
  private enterStep(step: Step, vars: Vars, routine: string, target: string): Flow {
    this.tick(routine, step.name, step.line);
    const b = step.body;
    let r: Flow;
    if (b.kind === 'try') r = this.runTry(b, vars, routine, target);
    else if (b.kind === 'switch') {
      // The case that holds the target runs from there, then goes to the case's own next.
      const c = b.cases.find((x) => x.steps && entry(x.steps, target) !== undefined)!;
      r = andThen(this.runSteps(c.steps!, vars, routine, 0, target), afterCase, c);
    } else if (b.kind === 'steps') r = this.runSteps(b.steps, vars, routine, 0, target);
    else r = jumpTo(target);
    return andThen(r, afterStep, step);
  }

  tick(routine: string, step: string, line: number) {
    const h = this.host;
    if (h.cancelled) throw new Cancelled();
    h.currentRoutine = routine;
    h.currentStepName = step;
    h.currentLine = line;
    if (++h.steps.internal + h.steps.external > h.limits.maxSteps) {
      raise(
        'ResourceLimitError',
        `exceeded the limit of ${h.limits.maxSteps} steps in one execution`,
      );
    }
  }

  private runStep(step: Step, vars: Vars, routine: string): Flow {
    this.tick(routine, step.name, step.line);
    // Long synchronous loops still let timers, I/O and cancel() in now and then.
    if (++this.yieldCounter >= 5000 && this.syncOnly === 0) {
      this.yieldCounter = 0;
      return new Promise<void>((r) => setImmediate(r)).then(() => {
        if (this.host.cancelled) throw new Cancelled();
        return andThen(this.runBody(step.body, vars, routine), afterStep, step);
      });
    }
    // The synchronous path allocates nothing: no closure, and jumps are made once per target.
    return andThen(this.runBody(step.body, vars, routine), afterStep, step);
  }

  private runBody(body: StepBody, vars: Vars, routine: string): Flow {
    switch (body.kind) {
      case 'assign':
        this.assignAll(body.assign, vars);
        return undefined;
      case 'steps':
        return this.runSteps(body.steps, vars, routine);
      case 'raise':
        throw new WorkflowError(this.eval(body.value, vars));
      case 'return':
        throw new Return(this.eval(body.value, vars));
      case 'call':
        return runCallStep(this, body, vars);
      case 'switch':
        return this.runSwitch(body.cases, vars, routine);
      case 'for':
        return this.runFor(body, vars, routine);
      case 'parallel':
        if (this.syncOnly > 0) cannotWait('a parallel step');
        return runParallel(this, body, vars, routine);
      case 'try':
        return this.runTry(body, vars, routine);
      default:
        return undefined;
    }
  }

  private runSwitch(cases: SwitchCase[], vars: Vars, routine: string): Flow {
    for (const c of cases) {
      const cond = this.eval(c.condition, vars);
      if (typeof cond !== 'boolean')
        raise('TypeError', `switch condition must be a boolean, got '${typeName(cond)}'`);
      if (!cond) continue;
      if (c.assign) this.assignAll(c.assign, vars);
      if (c.raise) throw new WorkflowError(this.eval(c.raise, vars));
      if (c.hasReturn) throw new Return(c.ret ? this.eval(c.ret, vars) : null);
      if (c.steps) return andThen(this.runSteps(c.steps, vars, routine), afterCase, c);
      return afterCase(undefined, c);
    }
    return undefined;
  }

  /**
   * What a `for` (or a parallel `for`) iterates: its `range` as integers, a list, a map's keys. A
   * range is counted, not built: a 90k-step loop held 90k integers, and their collection was a
   * third of its time.
   */
  iterable(body: ForBody, vars: Vars): Items {
    if (body.range) return this.range(this.eval(body.range, vars));
    const v = this.eval(body.in!, vars);
    if (isList(v)) return { length: v.length, at: (i) => v[i]! };
    if (isMap(v)) {
      const keys = [...v.keys()];
      return { length: keys.length, at: (i) => keys[i]! };
    }
    return raise('TypeError', `for loops iterate over lists and maps, got '${typeName(v)}'`);
  }

  /** `range: [a, b]`, inclusive at both ends; integers stay integers, else doubles. */
  private range(bounds: Value): Items {
    if (!isList(bounds) || bounds.length !== 2)
      raise('TypeError', `range must be a list of two numbers, got '${typeName(bounds)}'`);
    const [a, b] = bounds as [Value, Value];
    if (
      (typeof a !== 'bigint' && typeof a !== 'number') ||
      (typeof b !== 'bigint' && typeof b !== 'number')
    ) {
      raise('TypeError', 'range bounds must be numbers');
    }
    // A range longer than the step limit could never finish; refuse it before counting it.
    if (Number(b) - Number(a) > this.host.limits.maxSteps)
      raise(
        'ResourceLimitError',
        `exceeded the limit of ${this.host.limits.maxSteps} steps in one execution`,
      );
    if (typeof a === 'bigint' && typeof b === 'bigint')
      return { length: Math.max(0, Number(b - a) + 1), at: (i) => a + BigInt(i) };
    const from = Number(a);
    return { length: Math.max(0, Math.floor(Number(b) - from) + 1), at: (i) => from + i };
  }

  private runFor(body: ForBody, vars: Vars, routine: string): Flow {
    const items = this.iterable(body, vars);
    // One scope for the loop body, emptied each iteration: variables made inside do not leak.
    const inner = new Vars(vars.depth, vars.parallelDepth, vars);
    const loop = (from: number): Flow => {
      for (let i = from; i < items.length; i++) {
        inner.own.clear();
        inner.own.set(body.value, share(items.at(i)));
        if (body.index) inner.own.set(body.index, BigInt(i));
        const sig = this.runSteps(body.steps, inner, routine);
        if (sig instanceof Promise) {
          return sig.then((s) => {
            const next = loopSignal(s);
            return next === 'next' ? loop(i + 1) : next;
          });
        }
        const next = loopSignal(sig);
        if (next !== 'next') return next;
      }
      return undefined;
    };
    return loop(0);
  }

  /** A try step; `enter` names a step of its body a jump lands on (retries start from the top). */
  private runTry(body: TryBody, vars: Vars, routine: string, enter?: string): Flow {
    return this.attempt(body, vars, routine, 0, 0, enter);
  }

  /** One run of a try body; an error leaving it goes to onTryError. */
  private attempt(
    body: TryBody,
    vars: Vars,
    routine: string,
    attempt: number,
    delay: number,
    enter?: string,
  ): Flow {
    let r: Flow;
    try {
      r = this.runSteps(body.body, vars, routine, 0, enter);
    } catch (err) {
      return this.onTryError(err, body, vars, routine, attempt, delay);
    }
    if (r instanceof Promise)
      return r.catch((err) => this.onTryError(err, body, vars, routine, attempt, delay));
    return r;
  }

  /** An error left a try body: retry it per the policy, else run except, else rethrow. */
  private onTryError(
    err: unknown,
    body: TryBody,
    vars: Vars,
    routine: string,
    attempt: number,
    delay: number,
  ): Flow {
    // An internal ResourceLimitError ends the execution: no except, no retry.
    if (!(err instanceof WorkflowError) || !err.catchable) throw err;
    const except = (): Flow => {
      if (!body.except) throw err;
      if (body.exceptAs) vars.set(body.exceptAs, share(err.value));
      return this.runSteps(body.except, vars, routine);
    };
    const p = body.retry;
    if (!p) return except();
    const max = this.eval(p.maxRetries, vars);
    if (attempt >= Number(max)) return except();
    const wait = attempt === 0 ? Number(this.eval(p.initialDelay, vars)) : delay;
    const again = (retry: Value): Flow => {
      if (retry !== true) return except();
      if (this.syncOnly > 0) cannotWait('a retry backoff');
      const nextDelay = Math.min(
        wait * Number(this.eval(p.multiplier, vars)),
        Number(this.eval(p.maxDelay, vars)),
      );
      return this.host.ctx.clock
        .sleep(wait * 1000, this.host.ctx.signal)
        .then(() => this.attempt(body, vars, routine, attempt + 1, nextDelay));
    };
    return andThen(retryPredicate(this, p.predicate, err.value, vars), again, undefined);
  }

  private assignAll(list: [Target, Template][], vars: Vars) {
    for (const [target, value] of list) {
      if (value.k === 'expr' && value.append?.list === target.root && target.path.length === 0) {
        if (this.appendTo(target.root, value.append.item, vars)) continue;
      }
      this.assignTo(target, this.eval(value, vars), vars);
    }
  }

  /**
   * `x: ${list.concat(x, item)}`, the way workflows build lists: appends in place when `x` alone
   * holds its list, else stores the new list as `x`'s own, so the next append is in place. This
   * makes a loop of appends linear (copying the list each time was quadratic: 8,000 appends took
   * 12.8 s, now 0.05 s). False when the normal path must run (`x` no list, or the host's own list.concat).
   */
  private appendTo(name: string, item: Compiled, vars: Vars): boolean {
    const fn = this.host.functions('list.concat');
    const list = vars.lookup(name);
    if (!fn?.appends || list === undefined || !isList(list)) return false;
    const v = share(item(this.exprScope(vars)));
    if (ownsRoot(list)) {
      // Set first: a parallel branch may not write a variable it does not share.
      vars.set(name, list);
      pushOwned(list, v);
      this.checkSize(name, list);
      return true;
    }
    const fresh = fn.impl([share(list), v], this.host.ctx) as Value[];
    this.checkSize(name, fresh);
    vars.set(name, ownRoot(fresh));
    return true;
  }

  /** Sets a variable, within the size limits. */
  store(vars: Vars, name: string, value: Value) {
    if (typeof value === 'string' || typeof value === 'object') this.checkSize(name, value);
    vars.set(name, share(value));
  }

  /**
   * One variable may hold at most maxVariableBytes, so no workflow can exhaust memory, and no
   * string in it may be longer than maxStringBytes ("Quotas and limits"; the syntax cheat sheet
   * gives strings as "unicode <= 256 KB length"). Sizes are kept with the values (sharing.ts), so
   * checking a variable does not walk it.
   */
  private checkSize(name: string, value: Value) {
    const { maxVariableBytes: max, maxStringBytes } = this.host.limits;
    const size = sizeOf(value);
    if (size > max)
      raise('ResourceLimitError', `the size of variable ${name} exceeds the limit of ${max} bytes`);
    // Only a value this large can hold a string this long (a UTF-16 unit is at most 3 UTF-8 bytes).
    if (
      size * 3 > maxStringBytes &&
      longestOf(value) * 3 > maxStringBytes &&
      hasLongString(value, maxStringBytes)
    )
      raise(
        'ResourceLimitError',
        `variable ${name} holds a string longer than the limit of ${maxStringBytes} bytes`,
      );
  }

  /**
   * `a.b[0]: value`. Values behave as values: the write changes this variable alone (sharing.ts
   * copies what other variables may see). The path is checked before anything is written.
   */
  private assignTo(target: Target, value: Value, vars: Vars) {
    if (target.path.length === 0) return this.store(vars, target.root, value);
    const root = vars.lookup(target.root);
    if (root === undefined) raise('KeyError', `variable not found: ${target.root}`);
    const path = this.pathIn(root, target, vars);
    const written = writePath(root as Container, path, value);
    if (typeof value === 'string' || typeof value === 'object')
      this.checkSize(target.root, written);
    // A write into a shared variable from a parallel branch must be allowed, like a plain set.
    vars.set(target.root, written);
  }

  /** The keys and indexes of an assignment target in `root`, each checked as the write needs. */
  private pathIn(root: Value, target: Target, vars: Vars): Path {
    const scope = this.exprScope(vars);
    const path: Path = [];
    /** Undefined past a missing map key: the write makes a new map there. */
    let container: Value | undefined = root;
    for (let i = 0; i < target.path.length; i++) {
      const seg = target.path[i]!;
      const key: Value = 'dot' in seg ? seg.dot : seg.index(scope);
      if (container === undefined || isMap(container)) {
        if (typeof key !== 'string')
          raise('TypeError', `map keys are strings, got '${typeName(key)}'`);
        path.push(key);
        container = container?.get(key);
      } else if (isList(container) && !('dot' in seg)) {
        if (typeof key !== 'bigint')
          raise('TypeError', `list indices must be integers, got '${typeName(key)}'`);
        const idx = Number(key);
        if (idx < 0 || idx >= container.length)
          raise('IndexError', `list index out of range: ${idx}`);
        path.push(idx);
        container = container[idx];
      } else {
        raise('TypeError', `'${typeName(container)}' does not support item assignment`);
      }
    }
    return path;
  }

  exprScope(vars: Vars): ExprScope {
    if (vars.scope) return vars.scope;
    vars.scope = {
      get: (name) => {
        const v = vars.lookup(name);
        if (v === undefined) raise('KeyError', `variable not found: ${name}`);
        return v;
      },
      has: (name) => vars.lookup(name) !== undefined,
      call: (name, args) => callFromExpression(this, name, args, vars),
    };
    return vars.scope;
  }

  eval(t: Template, vars: Vars): Value {
    switch (t.k) {
      case 'const':
        return t.v;
      case 'expr':
        // What an expression yields may be a variable's value or part of one: now shared.
        return share(t.e(this.exprScope(vars)));
      case 'list':
        return t.items.map((x) => this.eval(x, vars));
      case 'map': {
        const m = new Map<string, Value>();
        for (const [k, x, dyn] of t.entries) {
          let key: Value = k;
          if (dyn) {
            key = dyn(this.exprScope(vars));
            if (typeof key !== 'string')
              raise('TypeError', `map keys must be strings, got '${typeName(key)}'`);
          }
          m.set(key as string, this.eval(x, vars));
        }
        return m;
      }
    }
  }
}
