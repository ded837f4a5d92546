// Runs a parsed workflow: scopes, control flow (next, break, continue, return), calls to
// subworkflows and library functions, try/retry/except, parallel branches, step accounting.
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
import { access, type Scope as ExprScope } from './expression.ts';
import { builtinError, raise, tagsOf, WorkflowError } from './errors.ts';
import type { CallContext, WfFunction } from './stdlib/types.ts';
import type { Routine, Step, StepBody, Target, Template, Workflow } from './syntax.ts';
import { isList, isMap, typeName, type Value } from './values.ts';

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

// Control flow travels as values (Jump) or thrown signals (Return); errors are WorkflowError.
type Sig = Jump | undefined;
type Flow = Sig | Promise<Sig>;

class Jump {
  constructor(readonly target: string) {}
}
class Return {
  constructor(readonly value: Value) {}
}
class Cancelled {}

const jumps = new Map<string, Jump>();
/** Jumps are immutable, so one per target name serves every execution. */
function jumpTo(target: string): Jump {
  let j = jumps.get(target);
  if (!j) {
    j = new Jump(target);
    // Bounded by the step names of the definitions parsed in this process.
    if (jumps.size < 100_000) jumps.set(target, j);
  }
  return j;
}

/** A step's own outcome, or its `next`. */
function afterStep(step: Step, sig: Sig): Sig {
  return sig ?? (step.next ? jumpTo(step.next) : undefined);
}

/** A jump to a step nested in the step at `at` of a list: enter that step to reach `target`. */
class Landing {
  constructor(
    readonly at: number,
    readonly target: string,
  ) {}
}

/**
 * Where a list of steps goes after step `i`: the next index, a Landing in a step of the list that
 * holds the target, or a Jump that leaves the list.
 */
function nextIndex(steps: Step[], i: number, sig: Sig): number | Landing | Sig {
  if (!sig) return i + 1 < steps.length ? i + 1 : undefined;
  if (sig.target === 'end' || sig.target === 'break' || sig.target === 'continue') return sig;
  return entry(steps, sig.target) ?? sig;
}

/** The index of the step named `target` in a list, or a Landing in the step that nests it. */
function entry(steps: Step[], target: string): number | Landing | undefined {
  const idx = steps.findIndex((s) => s.name === target);
  if (idx >= 0) return idx;
  const at = nestingIndex(steps).get(target);
  return at === undefined ? undefined : new Landing(at, target);
}

/**
 * Step names are unique in a routine, so `next` may name a step nested in a `steps` group, a
 * switch case or a try body; for each list, which of its steps holds each such nested name.
 * (For loops, except blocks and parallel branches cannot be entered: the parser refuses jumps
 * into loops and branches.)
 */
const nestings = new WeakMap<Step[], Map<string, number>>();
function nestingIndex(steps: Step[]): Map<string, number> {
  let map = nestings.get(steps);
  if (!map) {
    map = new Map();
    for (let i = 0; i < steps.length; i++)
      for (const list of enterable(steps[i]!))
        for (const name of namesIn(list)) if (!map.has(name)) map.set(name, i);
    nestings.set(steps, map);
  }
  return map;
}

/** The step lists a jump may enter in a step. */
function enterable(step: Step): Step[][] {
  const b = step.body;
  if (b.kind === 'steps') return [b.steps];
  if (b.kind === 'switch') return b.cases.flatMap((c) => (c.steps ? [c.steps] : []));
  if (b.kind === 'try') return [b.body];
  return [];
}

function namesIn(list: Step[], out: string[] = []): string[] {
  for (const s of list) {
    out.push(s.name);
    for (const inner of enterable(s)) namesIn(inner, out);
  }
  return out;
}

/** Variables of one routine invocation; a `for` body or a parallel branch adds a child scope. */
class Vars {
  readonly own = new Map<string, Value>();
  /** The expression scope over these variables, made once. */
  scope?: ExprScope;
  constructor(
    /** Call depth of the routine these variables belong to. */
    readonly depth: number,
    /** How many parallel steps enclose this scope, across subworkflow calls too. */
    readonly parallelDepth: number,
    readonly parent?: Vars,
    /** In a parallel branch: the parent variables it may write. */
    readonly shared?: Set<string>,
  ) {}

  lookup(name: string): Value | undefined {
    for (let s: Vars | undefined = this; s; s = s.parent) {
      const v = s.own.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  set(name: string, value: Value): void {
    for (let s: Vars | undefined = this; s; s = s.parent) {
      if (s.own.has(name)) {
        s.own.set(name, value);
        return;
      }
      if (s.shared && !s.shared.has(name) && s.parent?.lookup(name) !== undefined) {
        raise(
          'TypeError',
          `variable ${name} is not shared in this parallel step; add it to shared`,
        );
      }
    }
    this.own.set(name, value);
  }
}

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

export class Runtime {
  private yieldCounter = 0;
  /** > 0 while a subworkflow runs inside an expression: it must finish without waiting. */
  private syncOnly = 0;
  constructor(
    private readonly wf: Workflow,
    private readonly host: RuntimeHost,
  ) {}

  async runMain(argument: Value | undefined): Promise<Value> {
    const main = this.wf.main;
    const vars = new Vars(0, 0);
    // The argument is a variable like any other, so it obeys the same size limit.
    if (main.params[0]) this.store(vars, main.params[0].name, argument ?? null);
    return this.runRoutine(main, vars);
  }

  /** Runs a routine to its return value; synchronous while its steps are. */
  private runRoutine(routine: Routine, vars: Vars): Value | Promise<Value> {
    if (vars.depth > this.host.limits.maxCallDepth)
      raise('RecursionError', `maximum call depth of ${this.host.limits.maxCallDepth} exceeded`);
    const done = (sig: Sig): Value => {
      if (sig && sig.target !== 'end')
        raise('ValueError', `next: ${sig.target} has no target here`);
      return null;
    };
    const caught = (s: unknown): Value => {
      if (s instanceof Return) return s.value;
      throw s;
    };
    let r: Flow;
    try {
      r = this.runSteps(routine.steps, vars, routine.name);
    } catch (s) {
      return caught(s);
    }
    return r instanceof Promise ? r.then(done, caught) : done(r);
  }

  /**
   * Runs a list of steps from `start`, or from the step nested in it that `enter` names; returns
   * a Jump it could not resolve here (break, continue, end, a step outside the list).
   */
  private runSteps(steps: Step[], vars: Vars, routine: string, start = 0, enter?: string): Flow {
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
      const then = (sig: Sig): Sig => sig ?? (c.next ? jumpTo(c.next) : undefined);
      const inner = this.runSteps(c.steps!, vars, routine, 0, target);
      r = inner instanceof Promise ? inner.then(then) : then(inner);
    } else if (b.kind === 'steps') r = this.runSteps(b.steps, vars, routine, 0, target);
    else r = jumpTo(target);
    return r instanceof Promise ? r.then((sig) => afterStep(step, sig)) : afterStep(step, r);
  }

  private tick(routine: string, step: string, line: number) {
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
        const r = this.runBody(step.body, vars, routine);
        return r instanceof Promise ? r.then((sig) => afterStep(step, sig)) : afterStep(step, r);
      });
    }
    // The synchronous path allocates nothing: no closure, and jumps are made once per target.
    const r = this.runBody(step.body, vars, routine);
    return r instanceof Promise ? r.then((sig) => afterStep(step, sig)) : afterStep(step, r);
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
      case 'call': {
        if (this.host.callLog) return this.loggedCall(body, vars);
        const r = this.call(body.fn, body.args, vars);
        if (r instanceof Promise)
          return r.then((v) => {
            if (body.result) this.store(vars, body.result, copyValue(v));
            return undefined;
          });
        // A function may hand back part of its argument: copy, so no two variables share a value.
        if (body.result) this.store(vars, body.result, copyValue(r));
        return undefined;
      }
      case 'switch':
        return this.runSwitch(body, vars, routine);
      case 'for':
        return this.runFor(body, vars, routine);
      case 'parallel':
        if (this.syncOnly > 0) this.cannotWait('a parallel step');
        return this.runParallel(body, vars, routine);
      case 'try':
        return this.runTry(body, vars, routine);
      default:
        return undefined;
    }
  }

  /**
   * A call step under call logging. Entries go to the execution's log with the step's name:
   * `{"callStarted": {"function", "args"}}`, `{"callSucceeded": {"function", "response"}}` and
   * `{"callFailed": {"function", "exception"}}`.
   */
  private loggedCall(body: Extract<StepBody, { kind: 'call' }>, vars: Vars): Flow {
    const log = this.host.ctx.log;
    const all = this.host.callLog === 'all';
    const entry = (kind: string, field: string, v: Value) =>
      new Map<string, Value>([
        [
          kind,
          new Map<string, Value>([
            ['function', body.fn],
            [field, v],
          ]),
        ],
      ]);
    if (all) {
      const args = new Map<string, Value>();
      for (const [k, t] of body.args ?? []) args.set(k, this.eval(t, vars));
      log('INFO', entry('callStarted', 'args', args));
    }
    const ok = (v: Value): Sig => {
      if (all) log('INFO', entry('callSucceeded', 'response', v));
      if (body.result) this.store(vars, body.result, copyValue(v));
      return undefined;
    };
    const failed = (err: unknown): never => {
      if (err instanceof WorkflowError) log('ERROR', entry('callFailed', 'exception', err.value));
      throw err;
    };
    let r: Value | Promise<Value>;
    try {
      r = this.call(body.fn, body.args, vars);
    } catch (err) {
      return failed(err);
    }
    return r instanceof Promise ? r.then(ok, failed) : ok(r);
  }

  private runSwitch(
    body: Extract<StepBody, { kind: 'switch' }>,
    vars: Vars,
    routine: string,
  ): Flow {
    for (const c of body.cases) {
      const cond = this.eval(c.condition, vars);
      if (typeof cond !== 'boolean')
        raise('TypeError', `switch condition must be a boolean, got '${typeName(cond)}'`);
      if (!cond) continue;
      if (c.assign) this.assignAll(c.assign, vars);
      if (c.raise) throw new WorkflowError(this.eval(c.raise, vars));
      if (c.hasReturn) throw new Return(c.ret ? this.eval(c.ret, vars) : null);
      const then = (sig: Sig): Sig => sig ?? (c.next ? jumpTo(c.next) : undefined);
      if (c.steps) {
        const r = this.runSteps(c.steps, vars, routine);
        return r instanceof Promise ? r.then(then) : then(r);
      }
      return then(undefined);
    }
    return undefined;
  }

  private iterable(body: Extract<StepBody, { kind: 'for' }>, vars: Vars): Value[] {
    if (body.range) {
      const bounds = this.eval(body.range, vars);
      if (!isList(bounds) || bounds.length !== 2)
        raise('TypeError', `range must be a list of two numbers, got '${typeName(bounds)}'`);
      const [a, b] = bounds as [Value, Value];
      if (
        (typeof a !== 'bigint' && typeof a !== 'number') ||
        (typeof b !== 'bigint' && typeof b !== 'number')
      ) {
        raise('TypeError', 'range bounds must be numbers');
      }
      const out: Value[] = [];
      // A range longer than the step limit could never finish; refuse it before allocating it.
      if (Number(b) - Number(a) > this.host.limits.maxSteps)
        raise(
          'ResourceLimitError',
          `exceeded the limit of ${this.host.limits.maxSteps} steps in one execution`,
        );
      if (typeof a === 'bigint' && typeof b === 'bigint') {
        for (let i = a; i <= b; i++) out.push(i);
      } else {
        for (let i = Number(a); i <= Number(b); i++) out.push(i);
      }
      return out;
    }
    const v = this.eval(body.in!, vars);
    if (isList(v)) return v;
    if (isMap(v)) return [...v.keys()];
    return raise('TypeError', `for loops iterate over lists and maps, got '${typeName(v)}'`);
  }

  private runFor(body: Extract<StepBody, { kind: 'for' }>, vars: Vars, routine: string): Flow {
    const items = this.iterable(body, vars);
    // One scope for the loop body, emptied each iteration: variables made inside do not leak.
    const inner = new Vars(vars.depth, vars.parallelDepth, vars);
    const loop = (from: number, pending?: Promise<Sig>): Flow => {
      for (let i = from; i < items.length; i++) {
        let sig: Flow;
        if (pending && i === from) sig = pending;
        else {
          inner.own.clear();
          inner.own.set(body.value, items[i]!);
          if (body.index) inner.own.set(body.index, BigInt(i));
          sig = this.runSteps(body.steps, inner, routine);
        }
        if (sig instanceof Promise) {
          const at = i;
          return sig.then((s) => {
            if (s && s.target !== 'continue') return s.target === 'break' ? undefined : s;
            return loop(at + 1);
          });
        }
        if (!sig || sig.target === 'continue') continue;
        if (sig.target === 'break') return undefined;
        return sig;
      }
      return undefined;
    };
    return loop(0);
  }

  private async runParallel(
    body: Extract<StepBody, { kind: 'parallel' }>,
    vars: Vars,
    routine: string,
  ): Promise<Sig> {
    const depth = vars.parallelDepth + 1;
    if (depth > this.host.limits.maxParallelDepth)
      raise(
        'ParallelNestingError',
        `parallel steps can be nested at most ${this.host.limits.maxParallelDepth} levels deep`,
      );
    const shared = new Set(body.shared);
    for (const name of shared)
      if (vars.lookup(name) === undefined)
        raise('KeyError', `shared variable ${name} must be defined before the parallel step`);
    const tasks: (() => Flow)[] = [];
    if (body.branches) {
      for (const branch of body.branches) {
        tasks.push(() => {
          const inner = new Vars(vars.depth, depth, vars, shared);
          if (branch.body.kind !== 'steps') return this.runSteps([branch], inner, routine);
          this.tick(routine, branch.name, branch.line);
          return this.runSteps(branch.body.steps, inner, routine);
        });
      }
    } else if (body.for && body.for.kind === 'for') {
      const loop = body.for;
      const items = this.iterable(loop, vars);
      items.forEach((item, i) => {
        tasks.push(() => {
          const inner = new Vars(vars.depth, depth, vars, shared);
          inner.own.set(loop.value, item);
          if (loop.index) inner.own.set(loop.index, BigInt(i));
          return this.runSteps(loop.steps, inner, routine);
        });
      });
    }
    let configured = body.concurrencyLimit;
    if (body.concurrencyLimitExpr) {
      const v = this.eval(body.concurrencyLimitExpr, vars);
      if (typeof v !== 'bigint' || v < 1n)
        raise('ValueError', `concurrency_limit must be a positive integer, got ${typeName(v)}`);
      configured = Number(v);
    }
    const limit = Math.max(
      1,
      Math.min(configured ?? Number.POSITIVE_INFINITY, this.host.limits.maxConcurrentBranches),
    );
    const errors: { id: string; error: Value }[] = [];
    let fatal: unknown;
    let next = 0;
    let returned: Return | undefined;
    const worker = async () => {
      while (next < tasks.length && fatal === undefined && !returned) {
        const id = next++;
        if (errors.length > 0 && body.policy === 'unhandled') return;
        try {
          // Branches take turns at each step that waits, as Google interleaves them.
          await Promise.resolve();
          await tasks[id]!();
        } catch (err) {
          // Limits end the whole parallel step as they are, not as one branch's failure.
          if (err instanceof WorkflowError && err.catchable && !isNestingError(err.value))
            errors.push({ id: String(id), error: err.value });
          else if (err instanceof Return) returned ??= err;
          else fatal = err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
    if (fatal !== undefined) throw fatal;
    if (errors.length > 0) {
      throw builtinError(
        'UnhandledBranchError',
        'One or more branches or iterations encountered an unhandled runtime error',
        {
          branches: errors.map(
            (e) =>
              new Map<string, Value>([
                ['id', e.id],
                ['error', e.error],
              ]),
          ),
        },
      );
    }
    // A return inside a branch ends the whole workflow (or subworkflow) with that value.
    if (returned) throw returned;
    return undefined;
  }

  /** A try step; `enter` names a step of its body a jump lands on (retries start from the top). */
  private runTry(
    body: Extract<StepBody, { kind: 'try' }>,
    vars: Vars,
    routine: string,
    enter?: string,
  ): Flow {
    let r: Flow;
    try {
      r = this.runSteps(body.body, vars, routine, 0, enter);
    } catch (err) {
      return this.onTryError(err, body, vars, routine, 0, 0);
    }
    if (r instanceof Promise)
      return r.catch((err) => this.onTryError(err, body, vars, routine, 0, 0));
    return r;
  }

  /** An error left a try body: retry it per the policy, else run except, else rethrow. */
  private onTryError(
    err: unknown,
    body: Extract<StepBody, { kind: 'try' }>,
    vars: Vars,
    routine: string,
    attempt: number,
    delay: number,
  ): Flow {
    // An internal ResourceLimitError ends the execution: no except, no retry.
    if (!(err instanceof WorkflowError) || !err.catchable) throw err;
    const except = (): Flow => {
      if (!body.except) throw err;
      if (body.exceptAs) vars.set(body.exceptAs, err.value);
      return this.runSteps(body.except, vars, routine);
    };
    const p = body.retry;
    if (!p) return except();
    const max = this.eval(p.maxRetries, vars);
    if (attempt >= Number(max)) return except();
    const wait = attempt === 0 ? Number(this.eval(p.initialDelay, vars)) : delay;
    const again = (retry: Value): Flow => {
      if (retry !== true) return except();
      if (this.syncOnly > 0) this.cannotWait('a retry backoff');
      const nextDelay = Math.min(
        wait * Number(this.eval(p.multiplier, vars)),
        Number(this.eval(p.maxDelay, vars)),
      );
      return this.host.ctx.clock.sleep(wait * 1000, this.host.ctx.signal).then(() => {
        let r: Flow;
        try {
          r = this.runSteps(body.body, vars, routine);
        } catch (e) {
          return this.onTryError(e, body, vars, routine, attempt + 1, nextDelay);
        }
        return r instanceof Promise
          ? r.catch((e) => this.onTryError(e, body, vars, routine, attempt + 1, nextDelay))
          : r;
      });
    };
    const verdict = this.predicate(p.predicate, err.value, vars);
    return verdict instanceof Promise ? verdict.then(again) : again(verdict);
  }

  private predicate(name: string, error: Value, vars: Vars): Value | Promise<Value> {
    const sub = this.wf.routines.get(name);
    if (sub) {
      const inner = new Vars(vars.depth + 1, vars.parallelDepth);
      if (sub.params[0]) inner.own.set(sub.params[0].name, error);
      return this.runRoutine(sub, inner);
    }
    const fn = this.host.functions(name);
    if (!fn)
      raise('KeyError', `retry predicate ${name} is neither a subworkflow nor a known function`);
    return fn.impl([error], this.host.ctx);
  }

  private call(
    name: string,
    args: [string, Template][] | null,
    vars: Vars,
  ): Value | Promise<Value> {
    const sub = this.wf.routines.get(name);
    const given = new Map<string, Value>();
    for (const [k, t] of args ?? []) given.set(k, this.eval(t, vars));
    if (sub) {
      const inner = new Vars(vars.depth + 1, vars.parallelDepth);
      for (const p of sub.params) {
        if (given.has(p.name)) inner.own.set(p.name, copyValue(given.get(p.name)!));
        else if (p.default) inner.own.set(p.name, this.eval(p.default, inner));
        else raise('TypeError', `subworkflow ${name} is missing the parameter ${p.name}`);
      }
      for (const k of given.keys()) {
        if (!sub.params.some((p) => p.name === k))
          raise('TypeError', `subworkflow ${name} has no parameter ${k}`);
      }
      return this.runRoutine(sub, inner);
    }
    const fn = this.host.functions(name);
    if (!fn) raise('KeyError', `unknown function or subworkflow: ${name}`);
    if (this.syncOnly > 0 && fn.blocking) this.cannotWait(`a call to ${name}`);
    if (fn.rawArgs) {
      this.host.steps.internal--;
      this.host.steps.external++;
      return fn.impl([given], this.host.ctx);
    }
    const positional: (Value | undefined)[] = fn.params.map((p) => {
      if (given.has(p.name)) return given.get(p.name);
      if (!p.optional) raise('TypeError', `${name}: missing required argument ${p.name}`);
      return undefined;
    });
    for (const k of given.keys())
      if (!fn.params.some((p) => p.name === k))
        raise('TypeError', `${name}: unexpected argument ${k}`);
    if (fn.external) {
      this.host.steps.internal--;
      this.host.steps.external++;
    }
    return fn.impl(positional, this.host.ctx);
  }

  /** A subworkflow called from an expression reached something that waits. */
  private cannotWait(what: string): never {
    return raise(
      'TypeError',
      `a subworkflow called in an expression cannot wait (${what}); call it from a call step`,
    );
  }

  /** `${sub(a, b)}`: runs a subworkflow to completion inside an expression, synchronously. */
  private callInExpression(sub: Routine, args: Value[], vars: Vars): Value {
    if (args.length > sub.params.length)
      raise(
        'TypeError',
        `subworkflow ${sub.name} takes ${sub.params.length} arguments, got ${args.length}`,
      );
    const inner = new Vars(vars.depth + 1, vars.parallelDepth);
    sub.params.forEach((p, i) => {
      if (i < args.length) inner.own.set(p.name, copyValue(args[i]!));
      else if (p.default) inner.own.set(p.name, this.eval(p.default, inner));
      else raise('TypeError', `subworkflow ${sub.name} is missing the parameter ${p.name}`);
    });
    const routine = this.host.currentRoutine;
    const step = this.host.currentStepName;
    const line = this.host.currentLine;
    this.syncOnly++;
    try {
      const r = this.runRoutine(sub, inner);
      if (r instanceof Promise) {
        // Unreachable while every waiting path checks syncOnly; kept as a guard.
        r.catch(() => {});
        return this.cannotWait('a step that waits');
      }
      return r;
    } finally {
      this.syncOnly--;
      this.host.currentRoutine = routine;
      this.host.currentStepName = step;
      this.host.currentLine = line;
    }
  }

  private assignAll(list: [Target, Template][], vars: Vars) {
    for (const [target, value] of list) this.assignTo(target, this.eval(value, vars), vars);
  }

  private store(vars: Vars, name: string, value: Value) {
    if (typeof value === 'string' || typeof value === 'object') this.checkSize(name, value);
    vars.set(name, value);
  }

  /**
   * One variable may hold at most maxVariableBytes, so no workflow can exhaust memory, and no
   * string in it may be longer than maxStringBytes ("Quotas and limits"; the syntax cheat sheet
   * gives strings as "unicode <= 256 KB length").
   */
  private checkSize(name: string, value: Value) {
    const { maxVariableBytes: max, maxStringBytes } = this.host.limits;
    const size = sizeOf(value, max);
    if (size > max)
      raise('ResourceLimitError', `the size of variable ${name} exceeds the limit of ${max} bytes`);
    // Only a value this large can hold a string this long (a UTF-16 unit is at most 3 UTF-8 bytes).
    if (size * 3 > maxStringBytes && hasLongString(value, maxStringBytes))
      raise(
        'ResourceLimitError',
        `variable ${name} holds a string longer than the limit of ${maxStringBytes} bytes`,
      );
  }

  private assignTo(target: Target, raw: Value, vars: Vars) {
    // Workflows values behave as values: assigning a list or map copies it.
    const value = typeof raw === 'object' ? copyValue(raw) : raw;
    if (target.path.length === 0) return this.store(vars, target.root, value);
    const root = vars.lookup(target.root);
    if (root === undefined) raise('KeyError', `variable not found: ${target.root}`);
    let container = root;
    const scope = this.exprScope(vars);
    for (let i = 0; i < target.path.length; i++) {
      const seg = target.path[i]!;
      const key: Value = 'dot' in seg ? seg.dot : seg.index(scope);
      const last = i === target.path.length - 1;
      if (isMap(container)) {
        if (typeof key !== 'string')
          raise('TypeError', `map keys are strings, got '${typeName(key)}'`);
        if (last) container.set(key, value);
        else {
          let child = container.get(key);
          // Assigning through a missing key creates the intermediate map, as Google does.
          if (child === undefined) {
            child = new Map();
            container.set(key, child);
          }
          container = child;
        }
      } else if (isList(container) && !('dot' in seg)) {
        if (typeof key !== 'bigint')
          raise('TypeError', `list indices must be integers, got '${typeName(key)}'`);
        const idx = Number(key);
        if (idx < 0 || idx >= container.length)
          raise('IndexError', `list index out of range: ${idx}`);
        if (last) container[idx] = value;
        else container = container[idx]!;
      } else {
        raise('TypeError', `'${typeName(container)}' does not support item assignment`);
      }
    }
    if (typeof value === 'string' || typeof value === 'object') this.checkSize(target.root, root);
    // A write into a shared variable from a parallel branch must be allowed, like a plain set.
    vars.set(target.root, root);
  }

  private exprScope(vars: Vars): ExprScope {
    if (vars.scope) return vars.scope;
    const fns = this.host.functions;
    const ctx = this.host.ctx;
    const routines = this.wf.routines;
    vars.scope = {
      get: (name) => {
        const v = vars.lookup(name);
        if (v === undefined) raise('KeyError', `variable not found: ${name}`);
        return v;
      },
      has: (name) => vars.lookup(name) !== undefined,
      call: (name, args) => {
        const sub = routines.get(name);
        if (sub) return this.callInExpression(sub, args, vars);
        const fn = fns(name);
        if (!fn) raise('KeyError', `unknown function: ${name}`);
        if (fn.blocking)
          raise(
            'TypeError',
            `${name} is a blocking call; use it in a call step, not in an expression`,
          );
        checkArity(name, fn, args.length);
        const r = fn.impl(args, ctx);
        if (r instanceof Promise) {
          r.catch(() => {});
          raise('TypeError', `${name} cannot be used in an expression`);
        }
        return r;
      },
    };
    return vars.scope;
  }

  eval(t: Template, vars: Vars): Value {
    switch (t.k) {
      case 'const':
        return cloneConst(t.v);
      case 'expr':
        return t.e(this.exprScope(vars));
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

/** Constants in the definition are copied so an assignment into one never changes the definition. */
function cloneConst(v: Value): Value {
  if (isList(v)) return v.map(cloneConst);
  if (isMap(v)) return new Map([...v].map(([k, x]) => [k, cloneConst(x)]));
  return v;
}

function isNestingError(v: Value): boolean {
  return tagsOf(v).includes('ParallelNestingError');
}

/** A deep copy of lists and maps; scalars and bytes are immutable and shared. */
export function copyValue(v: Value): Value {
  if (isList(v)) return v.map(copyValue);
  if (isMap(v)) {
    const m = new Map<string, Value>();
    for (const [k, x] of v) m.set(k, copyValue(x));
    return m;
  }
  return v;
}

/** An estimate of a value's size in bytes; stops counting once past `cap`. */
export function sizeOf(v: Value, cap: number): number {
  if (v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'bigint' || typeof v === 'number') return 8;
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.byteLength;
  let n = 2;
  if (isList(v)) {
    for (const x of v) {
      n += sizeOf(x, cap) + 1;
      if (n > cap) return n;
    }
    return n;
  }
  for (const [k, x] of v) {
    n += k.length + sizeOf(x, cap) + 2;
    if (n > cap) return n;
  }
  return n;
}

/** Whether a value is or holds a string of more than `max` UTF-8 bytes. */
export function hasLongString(v: Value, max: number): boolean {
  if (typeof v === 'string') return v.length * 3 > max && Buffer.byteLength(v) > max;
  if (isList(v)) return v.some((x) => hasLongString(x, max));
  if (isMap(v)) for (const x of v.values()) if (hasLongString(x, max)) return true;
  return false;
}

export { access, Cancelled, tagsOf };

/** `${f(a, b)}` passes arguments by position: more than `f` takes, or fewer than it needs, is an error. */
function checkArity(name: string, fn: WfFunction, given: number): void {
  if (fn.rawArgs) return;
  const required = fn.params.filter((p) => !p.optional).length;
  if (given > fn.params.length || given < required) {
    const takes =
      required === fn.params.length ? `${required}` : `${required} to ${fn.params.length}`;
    raise('TypeError', `${name} takes ${takes} argument(s), got ${given}`);
  }
}
