// Runs a parsed workflow: scopes, control flow (next, break, continue, return), calls to
// subworkflows and library functions, try/retry/except, parallel branches, step accounting.
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
  maxVariableBytes: number;
}

export const defaultLimits: Limits = {
  maxSteps: 100_000,
  maxCallDepth: 20,
  maxParallelBranches: 10,
  maxParallelDepth: 2,
  maxVariableBytes: 512 * 1024,
};

// Control flow travels as thrown signals, caught where it lands; errors are WorkflowError.
type Flow = Jump | undefined | Promise<Jump | undefined>;

/** Where a list of steps goes after step `i`: the next index, or a Jump that leaves the list. */
function nextIndex(steps: Step[], i: number, sig: Jump | undefined): number | Jump | undefined {
  if (!sig) return i + 1 < steps.length ? i + 1 : undefined;
  if (sig.target === 'end' || sig.target === 'break' || sig.target === 'continue') return sig;
  const idx = steps.findIndex((s) => s.name === sig.target);
  return idx < 0 ? sig : idx;
}
class Jump {
  constructor(readonly target: string) {}
}
class Return {
  constructor(readonly value: Value) {}
}
class Cancelled {}

/** Variables of one routine invocation; a `for` body or a parallel branch adds a child scope. */
class Vars {
  readonly own = new Map<string, Value>();
  /** The expression scope over these variables, made once. */
  scope?: ExprScope;
  constructor(
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
  cancelled: boolean;
}

export class Runtime {
  private yieldCounter = 0;
  constructor(
    private readonly wf: Workflow,
    private readonly host: RuntimeHost,
  ) {}

  async runMain(argument: Value | undefined): Promise<Value> {
    const main = this.wf.main;
    const vars = new Vars();
    if (main.params[0]) vars.set(main.params[0].name, argument ?? null);
    return this.runRoutine(main, vars, 0);
  }

  private async runRoutine(routine: Routine, vars: Vars, depth: number): Promise<Value> {
    if (depth > this.host.limits.maxCallDepth)
      raise('RecursionError', `maximum call depth of ${this.host.limits.maxCallDepth} exceeded`);
    try {
      const sig = await this.runSteps(routine.steps, vars, routine.name, depth);
      if (sig instanceof Jump && sig.target !== 'end') {
        raise('ValueError', `next: ${sig.target} has no target here`);
      }
      return null;
    } catch (s) {
      if (s instanceof Return) return s.value;
      throw s;
    }
  }

  /**
   * Runs a list of steps; returns a Jump it could not resolve here (break, continue, end, outer
   * step). Synchronous while the steps are (assignments, expressions), so a tight loop pays no
   * promise per step; it turns into a promise only when a step must wait.
   */
  private runSteps(steps: Step[], vars: Vars, routine: string, depth: number, start = 0): Flow {
    let i = start;
    while (i < steps.length) {
      const r = this.runStep(steps[i]!, vars, routine, depth);
      if (r instanceof Promise) {
        const at = i;
        return r.then((sig) => {
          const n = nextIndex(steps, at, sig);
          return typeof n === 'number' ? this.runSteps(steps, vars, routine, depth, n) : n;
        });
      }
      const n = nextIndex(steps, i, r);
      if (typeof n !== 'number') return n;
      i = n;
    }
    return undefined;
  }

  private tick(routine: string, step: string) {
    const h = this.host;
    if (h.cancelled) throw new Cancelled();
    h.currentRoutine = routine;
    h.currentStepName = step;
    if (++h.steps.internal + h.steps.external > h.limits.maxSteps) {
      raise(
        'ResourceLimitError',
        `exceeded the limit of ${h.limits.maxSteps} steps in one execution`,
      );
    }
  }

  private runStep(step: Step, vars: Vars, routine: string, depth: number): Flow {
    this.tick(routine, step.name);
    const after = (sig: Jump | undefined) => sig ?? (step.next ? new Jump(step.next) : undefined);
    // Long synchronous loops still let timers, I/O and cancel() in now and then.
    if (++this.yieldCounter >= 5000) {
      this.yieldCounter = 0;
      return new Promise<void>((r) => setImmediate(r)).then(async () => {
        if (this.host.cancelled) throw new Cancelled();
        return after(await this.runBody(step.body, vars, routine, depth));
      });
    }
    const r = this.runBody(step.body, vars, routine, depth);
    return r instanceof Promise ? r.then(after) : after(r);
  }

  private runBody(body: StepBody, vars: Vars, routine: string, depth: number): Flow {
    if (body.kind === 'assign') {
      this.assignAll(body.assign, vars);
      return undefined;
    }
    if (body.kind === 'steps') return this.runSteps(body.steps, vars, routine, depth);
    if (body.kind === 'raise') throw new WorkflowError(this.eval(body.value, vars));
    if (body.kind === 'return') throw new Return(this.eval(body.value, vars));
    return this.runAsyncBody(body, vars, routine, depth);
  }

  private async runAsyncBody(
    body: StepBody,
    vars: Vars,
    routine: string,
    depth: number,
  ): Promise<Jump | undefined> {
    // assign, steps, raise and return are handled synchronously in runBody.
    switch (body.kind) {
      case 'call': {
        const result = await this.call(body.fn, body.args, vars, depth);
        if (body.result) this.store(vars, body.result, result);
        return undefined;
      }
      case 'switch': {
        for (const c of body.cases) {
          const cond = this.eval(c.condition, vars);
          if (typeof cond !== 'boolean')
            raise('TypeError', `switch condition must be a boolean, got '${typeName(cond)}'`);
          if (!cond) continue;
          if (c.assign) this.assignAll(c.assign, vars);
          if (c.raise) throw new WorkflowError(this.eval(c.raise, vars));
          if (c.hasReturn) throw new Return(c.ret ? this.eval(c.ret, vars) : null);
          if (c.steps) {
            const sig = await this.runSteps(c.steps, vars, routine, depth);
            if (sig) return sig;
          }
          return c.next ? new Jump(c.next) : undefined;
        }
        return undefined;
      }
      case 'for':
        return this.runFor(body, vars, routine, depth);
      case 'parallel':
        return this.runParallel(body, vars, routine, depth);
      case 'try':
        return this.runTry(body, vars, routine, depth);
      default:
        return undefined;
    }
  }

  private iterable(body: Extract<StepBody, { kind: 'for' }>, vars: Vars): Value[] {
    if (body.range) {
      const a = this.eval(body.range[0], vars);
      const b = this.eval(body.range[1], vars);
      if (
        (typeof a !== 'bigint' && typeof a !== 'number') ||
        (typeof b !== 'bigint' && typeof b !== 'number')
      ) {
        raise('TypeError', 'range bounds must be numbers');
      }
      const out: Value[] = [];
      if (typeof a === 'bigint' && typeof b === 'bigint') {
        if (b - a > BigInt(this.host.limits.maxSteps))
          raise('ResourceLimitError', 'range is larger than the step limit');
        for (let i = a; i <= b; i++) out.push(i);
      } else {
        if (Number(b) - Number(a) > this.host.limits.maxSteps)
          raise('ResourceLimitError', 'range is larger than the step limit');
        for (let i = Number(a); i <= Number(b); i++) out.push(i);
      }
      return out;
    }
    const v = this.eval(body.in!, vars);
    if (isList(v)) return v;
    if (isMap(v)) return [...v.keys()];
    return raise('TypeError', `for loops iterate over lists and maps, got '${typeName(v)}'`);
  }

  private async runFor(
    body: Extract<StepBody, { kind: 'for' }>,
    vars: Vars,
    routine: string,
    depth: number,
  ): Promise<Jump | undefined> {
    const items = this.iterable(body, vars);
    // One scope for the loop body, emptied each iteration: variables made inside do not leak.
    const inner = new Vars(vars);
    for (let i = 0; i < items.length; i++) {
      inner.own.clear();
      inner.own.set(body.value, items[i]!);
      if (body.index) inner.own.set(body.index, BigInt(i));
      let sig = this.runSteps(body.steps, inner, routine, depth);
      if (sig instanceof Promise) sig = await sig;
      if (!sig || sig.target === 'continue') continue;
      if (sig.target === 'break') break;
      return sig;
    }
    return undefined;
  }

  private async runParallel(
    body: Extract<StepBody, { kind: 'parallel' }>,
    vars: Vars,
    routine: string,
    depth: number,
  ): Promise<Jump | undefined> {
    const shared = new Set(body.shared);
    for (const name of shared)
      if (vars.lookup(name) === undefined)
        raise('KeyError', `shared variable ${name} must be defined before the parallel step`);
    const tasks: (() => Promise<void>)[] = [];
    if (body.branches) {
      for (const branch of body.branches) {
        tasks.push(async () => {
          await this.runSteps(
            branch.body.kind === 'steps' ? branch.body.steps : [branch],
            new Vars(vars, shared),
            routine,
            depth,
          );
        });
      }
    } else if (body.for && body.for.kind === 'for') {
      const loop = body.for;
      const items = this.iterable(loop, vars);
      items.forEach((item, i) => {
        tasks.push(async () => {
          const inner = new Vars(vars, shared);
          inner.own.set(loop.value, item);
          if (loop.index) inner.own.set(loop.index, BigInt(i));
          await this.runSteps(loop.steps, inner, routine, depth);
        });
      });
    }
    const limit = Math.max(1, body.concurrencyLimit ?? 20);
    const errors: { id: string; error: Value }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const id = next++;
        if (errors.length > 0 && body.policy === 'unhandled') return;
        try {
          await tasks[id]!();
        } catch (err) {
          if (!(err instanceof WorkflowError)) throw err;
          errors.push({ id: String(id), error: err.value });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
    if (errors.length > 0) {
      throw builtinError(
        'UnhandledBranchError',
        `${errors.length} branch(es) raised unhandled errors`,
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
    return undefined;
  }

  private async runTry(
    body: Extract<StepBody, { kind: 'try' }>,
    vars: Vars,
    routine: string,
    depth: number,
  ): Promise<Jump | undefined> {
    let attempt = 0;
    let delay = 0;
    for (;;) {
      try {
        return await this.runSteps(body.body, vars, routine, depth);
      } catch (err) {
        if (!(err instanceof WorkflowError)) throw err;
        if (body.retry) {
          const p = body.retry;
          const max = this.eval(p.maxRetries, vars);
          if (attempt === 0) delay = Number(this.eval(p.initialDelay, vars));
          const retry =
            attempt < Number(max) &&
            (await this.predicate(p.predicate, err.value, vars, depth)) === true;
          if (retry) {
            attempt++;
            await this.host.ctx.clock.sleep(delay * 1000, this.host.ctx.signal);
            delay = Math.min(
              delay * Number(this.eval(p.multiplier, vars)),
              Number(this.eval(p.maxDelay, vars)),
            );
            continue;
          }
        }
        if (!body.except) throw err;
        if (body.exceptAs) vars.set(body.exceptAs, err.value);
        return this.runSteps(body.except, vars, routine, depth);
      }
    }
  }

  private async predicate(name: string, error: Value, vars: Vars, depth: number): Promise<Value> {
    const sub = this.wf.routines.get(name);
    if (sub) {
      const inner = new Vars();
      if (sub.params[0]) inner.set(sub.params[0].name, error);
      return this.runRoutine(sub, inner, depth + 1);
    }
    const fn = this.host.functions(name);
    if (!fn)
      raise('KeyError', `retry predicate ${name} is neither a subworkflow nor a known function`);
    void vars;
    return fn.impl([error], this.host.ctx);
  }

  private async call(
    name: string,
    args: [string, Template][] | null,
    vars: Vars,
    depth: number,
  ): Promise<Value> {
    const sub = this.wf.routines.get(name);
    const given = new Map<string, Value>();
    for (const [k, t] of args ?? []) given.set(k, this.eval(t, vars));
    if (sub) {
      const inner = new Vars();
      for (const p of sub.params) {
        if (given.has(p.name)) inner.own.set(p.name, given.get(p.name)!);
        else if (p.default) inner.own.set(p.name, this.eval(p.default, inner));
        else raise('TypeError', `subworkflow ${name} is missing the parameter ${p.name}`);
      }
      for (const k of given.keys()) {
        if (!sub.params.some((p) => p.name === k))
          raise('TypeError', `subworkflow ${name} has no parameter ${k}`);
      }
      return this.runRoutine(sub, inner, depth + 1);
    }
    const fn = this.host.functions(name);
    if (!fn) raise('KeyError', `unknown function or subworkflow: ${name}`);
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

  private assignAll(list: [Target, Template][], vars: Vars) {
    for (const [target, value] of list) this.assignTo(target, this.eval(value, vars), vars);
  }

  private store(vars: Vars, name: string, value: Value) {
    vars.set(name, value);
  }

  private assignTo(target: Target, value: Value, vars: Vars) {
    if (target.path.length === 0) return this.store(vars, target.root, value);
    let container = vars.lookup(target.root);
    if (container === undefined) raise('KeyError', `variable not found: ${target.root}`);
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
  }

  private exprScope(vars: Vars): ExprScope {
    if (vars.scope) return vars.scope;
    const fns = this.host.functions;
    const ctx = this.host.ctx;
    vars.scope = {
      get: (name) => {
        const v = vars.lookup(name);
        if (v === undefined) raise('KeyError', `variable not found: ${name}`);
        return v;
      },
      has: (name) => vars.lookup(name) !== undefined,
      call: (name, args) => {
        const fn = fns(name);
        if (!fn) raise('KeyError', `unknown function: ${name}`);
        if (fn.blocking)
          raise(
            'TypeError',
            `${name} is a blocking call; use it in a call step, not in an expression`,
          );
        const r = fn.impl(args, ctx);
        if (r instanceof Promise) raise('TypeError', `${name} cannot be used in an expression`);
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
      case 'map':
        return new Map(t.entries.map(([k, x]) => [k, this.eval(x, vars)]));
    }
  }
}

/** Constants in the definition are copied so an assignment into one never changes the definition. */
function cloneConst(v: Value): Value {
  if (isList(v)) return v.map(cloneConst);
  if (isMap(v)) return new Map([...v].map(([k, x]) => [k, cloneConst(x)]));
  return v;
}

export { access, Cancelled, tagsOf };
