// Calls: subworkflows (from call steps, expressions and retry predicates) and library functions,
// `args` mapped to parameters by name (positional in expressions), call logging, and billing of
// external calls.
import { raise, WorkflowError } from './errors.ts';
import { andThen, type Flow, type Sig } from './flow.ts';
import type { Runtime } from './runtime.ts';
import { share } from './sharing.ts';
import type { WfFunction } from './stdlib/types.ts';
import type { Routine, StepBody, Template } from './syntax.ts';
import type { Value } from './values.ts';
import { Vars } from './vars.ts';

type CallBody = Extract<StepBody, { kind: 'call' }>;

/** A call step: the call, then its result stored in `result`. */
export function runCallStep(rt: Runtime, body: CallBody, vars: Vars): Flow {
  if (rt.host.callLog) return loggedCall(rt, body, vars);
  return andThen(call(rt, body.fn, body.args, vars), storeResult, { rt, body, vars });
}

function storeResult(v: Value, { rt, body, vars }: { rt: Runtime; body: CallBody; vars: Vars }) {
  // A function may hand back part of its argument: store shares it, so a write copies it.
  if (body.result) rt.store(vars, body.result, v);
  return undefined;
}

/**
 * A call step under call logging. Entries go to the execution's log with the step's name:
 * `{"callStarted": {"function", "args"}}`, `{"callSucceeded": {"function", "response"}}` and
 * `{"callFailed": {"function", "exception"}}`.
 */
function loggedCall(rt: Runtime, body: CallBody, vars: Vars): Flow {
  const log = rt.host.ctx.log;
  const all = rt.host.callLog === 'all';
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
    for (const [k, t] of body.args ?? []) args.set(k, rt.eval(t, vars));
    log('INFO', entry('callStarted', 'args', args));
  }
  const ok = (v: Value): Sig => {
    if (all) log('INFO', entry('callSucceeded', 'response', v));
    return storeResult(v, { rt, body, vars });
  };
  const failed = (err: unknown): never => {
    if (err instanceof WorkflowError) log('ERROR', entry('callFailed', 'exception', err.value));
    throw err;
  };
  let r: Value | Promise<Value>;
  try {
    r = call(rt, body.fn, body.args, vars);
  } catch (err) {
    return failed(err);
  }
  return r instanceof Promise ? r.then(ok, failed) : ok(r);
}

/** Calls a subworkflow or a function by name with a call step's `args`. */
export function call(
  rt: Runtime,
  name: string,
  args: [string, Template][] | null,
  vars: Vars,
): Value | Promise<Value> {
  const sub = rt.wf.routines.get(name);
  const given = new Map<string, Value>();
  for (const [k, t] of args ?? []) given.set(k, rt.eval(t, vars));
  if (sub) return callSubworkflow(rt, sub, given, vars);
  const fn = rt.host.functions(name);
  if (!fn) raise('KeyError', `unknown function or subworkflow: ${name}`);
  if (rt.syncOnly > 0 && fn.blocking) cannotWait(`a call to ${name}`);
  return callFunction(rt, name, fn, given);
}

/** A subworkflow with arguments by name: each parameter given, or its default, or an error. */
function callSubworkflow(
  rt: Runtime,
  sub: Routine,
  given: Map<string, Value>,
  vars: Vars,
): Value | Promise<Value> {
  const inner = new Vars(vars.depth + 1, vars.parallelDepth);
  for (const p of sub.params) {
    if (given.has(p.name)) inner.own.set(p.name, given.get(p.name)!);
    else if (p.default) inner.own.set(p.name, rt.eval(p.default, inner));
    else raise('TypeError', `subworkflow ${sub.name} is missing the parameter ${p.name}`);
  }
  for (const k of given.keys()) {
    if (!sub.params.some((p) => p.name === k))
      raise('TypeError', `subworkflow ${sub.name} has no parameter ${k}`);
  }
  return rt.runRoutine(sub, inner);
}

/** A library function: arguments by name to its positional parameters; external ones bill so. */
function callFunction(
  rt: Runtime,
  name: string,
  fn: WfFunction,
  given: Map<string, Value>,
): Value | Promise<Value> {
  const steps = rt.host.steps;
  if (fn.rawArgs) {
    steps.internal--;
    steps.external++;
    return fn.impl([given], rt.host.ctx);
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
    steps.internal--;
    steps.external++;
  }
  return fn.impl(positional, rt.host.ctx);
}

/** A retry policy's predicate, a subworkflow or a function, called with the error. */
export function retryPredicate(
  rt: Runtime,
  name: string,
  error: Value,
  vars: Vars,
): Value | Promise<Value> {
  const sub = rt.wf.routines.get(name);
  if (sub) {
    const inner = new Vars(vars.depth + 1, vars.parallelDepth);
    if (sub.params[0]) inner.own.set(sub.params[0].name, share(error));
    return rt.runRoutine(sub, inner);
  }
  const fn = rt.host.functions(name);
  if (!fn)
    raise('KeyError', `retry predicate ${name} is neither a subworkflow nor a known function`);
  return fn.impl([error], rt.host.ctx);
}

/** A subworkflow called from an expression reached something that waits. */
export function cannotWait(what: string): never {
  return raise(
    'TypeError',
    `a subworkflow called in an expression cannot wait (${what}); call it from a call step`,
  );
}

/** `${f(a, b)}`: a subworkflow or a function called in an expression, by position. */
export function callFromExpression(rt: Runtime, name: string, args: Value[], vars: Vars): Value {
  // A function may keep its arguments in what it returns; a subworkflow holds them as variables.
  for (const a of args) share(a);
  const sub = rt.wf.routines.get(name);
  if (sub) return callInExpression(rt, sub, args, vars);
  const fn = rt.host.functions(name);
  if (!fn) raise('KeyError', `unknown function: ${name}`);
  if (fn.blocking)
    raise('TypeError', `${name} is a blocking call; use it in a call step, not in an expression`);
  checkArity(name, fn, args.length);
  const r = fn.impl(args, rt.host.ctx);
  if (r instanceof Promise) {
    r.catch(() => {});
    raise('TypeError', `${name} cannot be used in an expression`);
  }
  return r;
}

/** `${sub(a, b)}`: runs a subworkflow to completion inside an expression, synchronously. */
function callInExpression(rt: Runtime, sub: Routine, args: Value[], vars: Vars): Value {
  if (args.length > sub.params.length)
    raise(
      'TypeError',
      `subworkflow ${sub.name} takes ${sub.params.length} arguments, got ${args.length}`,
    );
  const inner = new Vars(vars.depth + 1, vars.parallelDepth);
  sub.params.forEach((p, i) => {
    if (i < args.length) inner.own.set(p.name, args[i]!);
    else if (p.default) inner.own.set(p.name, rt.eval(p.default, inner));
    else raise('TypeError', `subworkflow ${sub.name} is missing the parameter ${p.name}`);
  });
  const { currentRoutine, currentStepName, currentLine } = rt.host;
  rt.syncOnly++;
  try {
    const r = rt.runRoutine(sub, inner);
    if (r instanceof Promise) {
      // Unreachable while every waiting path checks syncOnly; kept as a guard.
      r.catch(() => {});
      return cannotWait('a step that waits');
    }
    return r;
  } finally {
    rt.syncOnly--;
    rt.host.currentRoutine = currentRoutine;
    rt.host.currentStepName = currentStepName;
    rt.host.currentLine = currentLine;
  }
}

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
