// Deploy-time checks over a parsed routine, as Google's deploy makes them: jumps that stay in
// their scope, parallel branches writing only shared variables, variables read where they exist,
// and calls that name a subworkflow or a library function.
import { DeployError } from './errors.ts';
import { expressionNames, expressionText } from './expression.ts';
import type { Routine, Step, StepBody, Target, Template } from './syntax.ts';

/**
 * Where `next` may go: the routine's steps are one scope, and the body of each for loop (parallel
 * or not) and of each parallel branch is a scope of its own. A jump stays inside its scope
 * (Google's "Iteration" page: no jumping into or out of a for loop, nor between two loops).
 */
export interface JumpScope {
  /** What the scope is, for messages: `the for loop "name"`. */
  what: string;
}

/** The step names of one routine and the `next`s in it, as the parser collects them. */
export interface Jumps {
  /** Every step name of the routine, with the jump scope it is in. */
  stepNames: Map<string, JumpScope>;
  nexts: { target: string; step: string; line: number; scope: JumpScope }[];
}

/** The checks of one routine once parsed, in the order deploying reports them. */
export function validateRoutine(
  routine: Routine,
  jumps: Jumps,
  routineNames: ReadonlySet<string>,
): void {
  checkJumps(routine.name, jumps);
  checkSharedWrites(routine);
  checkVariableScopes(routine, routineNames);
}

/** Every `next` names a step of the routine in its own jump scope. */
function checkJumps(routine: string, jumps: Jumps): void {
  for (const n of jumps.nexts) {
    if (['end', 'break', 'continue'].includes(n.target)) continue;
    const scope = jumps.stepNames.get(n.target);
    if (!scope)
      throw new DeployError(`next: ${n.target} names no step in ${routine}`, n.step, n.line);
    if (scope !== n.scope)
      throw new DeployError(
        `next: ${n.target} names a step in ${scope.what}, but this step is in ${n.scope.what}; a jump cannot enter or leave a for loop or parallel branch`,
        n.step,
        n.line,
      );
  }
}

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
        const { variables, functions } = expressionNames(src);
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
export function checkCallTargets(routine: Routine, routines: Map<string, Routine>): void {
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
