// Control flow as values: jumps (`next`), returns and cancellation as the runtime passes them, the
// value-or-promise helper every control path uses, and where a jump lands in a list of steps.
import type { Step } from './syntax.ts';
import type { Value } from './values.ts';

/** A step's outcome: a jump it could not resolve itself, or nothing (go on to the next step). */
export type Sig = Jump | undefined;
/** A step's outcome now, or later when the step waits. */
export type Flow = Sig | Promise<Sig>;

export class Jump {
  constructor(readonly target: string) {}
}
/** Thrown by a `return` step (and a switch case's `return`) up to its routine. */
export class Return {
  constructor(readonly value: Value) {}
}
/** Thrown once the execution is cancelled. */
export class Cancelled {}

/**
 * `f(r)` now when `r` is a value, after it resolves when it is a promise. Steps run synchronously
 * until one must wait, so this is how a tight loop pays no promise per step. `f` gets `arg` so
 * that a hot path can pass a module-level function and make no closure unless it must wait.
 */
export function andThen<T, U, A>(
  r: T | Promise<T>,
  f: (value: T, arg: A) => U | Promise<U>,
  arg: A,
): U | Promise<U> {
  return r instanceof Promise ? r.then((v) => f(v, arg)) : f(r, arg);
}

const jumps = new Map<string, Jump>();
/** Jumps are immutable, so one per target name serves every execution. */
export function jumpTo(target: string): Jump {
  let j = jumps.get(target);
  if (!j) {
    j = new Jump(target);
    // Bounded by the step names of the definitions parsed in this process.
    if (jumps.size < 100_000) jumps.set(target, j);
  }
  return j;
}

/** A step's own outcome, or its `next`. */
export function afterStep(sig: Sig, step: Step): Sig {
  return sig ?? (step.next ? jumpTo(step.next) : undefined);
}

/** A jump to a step nested in the step at `at` of a list: enter that step to reach `target`. */
export class Landing {
  constructor(
    readonly at: number,
    readonly target: string,
  ) {}
}

/**
 * Where a list of steps goes after step `i`: the next index, a Landing in a step of the list that
 * holds the target, or a Jump that leaves the list.
 */
export function nextIndex(steps: Step[], i: number, sig: Sig): number | Landing | Sig {
  if (!sig) return i + 1 < steps.length ? i + 1 : undefined;
  if (sig.target === 'end' || sig.target === 'break' || sig.target === 'continue') return sig;
  return entry(steps, sig.target) ?? sig;
}

/** The index of the step named `target` in a list, or a Landing in the step that nests it. */
export function entry(steps: Step[], target: string): number | Landing | undefined {
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
        for (const name of enterableStepNames(list)) if (!map.has(name)) map.set(name, i);
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

/** The names of the steps in a list and in the lists a jump may enter inside them. */
function enterableStepNames(list: Step[], out: string[] = []): string[] {
  for (const s of list) {
    out.push(s.name);
    for (const inner of enterable(s)) enterableStepNames(inner, out);
  }
  return out;
}
