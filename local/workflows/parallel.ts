// Parallel steps: their branches or iterations as tasks, run by a pool of workers bounded by
// `concurrency_limit`; branch errors gathered into one UnhandledBranchError.
import { builtinError, raise, tagsOf, WorkflowError } from './errors.ts';
import { type Flow, Return, type Sig } from './flow.ts';
import type { Runtime } from './runtime.ts';
import { share } from './sharing.ts';
import type { StepBody } from './syntax.ts';
import { typeName, type Value } from './values.ts';
import { Vars } from './vars.ts';

type ParallelBody = Extract<StepBody, { kind: 'parallel' }>;
type Task = () => Flow;

/** How the tasks of one parallel step ended. */
interface Outcome {
  errors: { id: string; error: Value }[];
  /** An error that ends the whole step as it is (limits, cancellation, engine bugs). */
  fatal?: unknown;
  /** A branch's `return`, which ends the routine. */
  returned?: Return;
}

export async function runParallel(
  rt: Runtime,
  body: ParallelBody,
  vars: Vars,
  routine: string,
): Promise<Sig> {
  const depth = vars.parallelDepth + 1;
  const limits = rt.host.limits;
  if (depth > limits.maxParallelDepth)
    raise(
      'ParallelNestingError',
      `parallel steps can be nested at most ${limits.maxParallelDepth} levels deep`,
    );
  const shared = new Set(body.shared);
  for (const name of shared)
    if (vars.lookup(name) === undefined)
      raise('KeyError', `shared variable ${name} must be defined before the parallel step`);
  const scope = () => new Vars(vars.depth, depth, vars, shared);
  const tasks = parallelTasks(rt, body, vars, routine, scope);
  const outcome = await runPool(tasks, concurrency(rt, body, vars), body.policy);
  if (outcome.fatal !== undefined) throw outcome.fatal;
  if (outcome.errors.length > 0) throw unhandledBranches(outcome.errors);
  // A return inside a branch ends the whole workflow (or subworkflow) with that value.
  if (outcome.returned) throw outcome.returned;
  return undefined;
}

/** One task per branch, or per iteration of a parallel `for`, each in a new `scope()`. */
function parallelTasks(
  rt: Runtime,
  body: ParallelBody,
  vars: Vars,
  routine: string,
  scope: () => Vars,
): Task[] {
  if (body.branches) {
    return body.branches.map((branch) => () => {
      const inner = scope();
      if (branch.body.kind !== 'steps') return rt.runSteps([branch], inner, routine);
      rt.tick(routine, branch.name, branch.line);
      return rt.runSteps(branch.body.steps, inner, routine);
    });
  }
  if (body.for?.kind !== 'for') return [];
  const loop = body.for;
  const items = rt.iterable(loop, vars);
  return Array.from({ length: items.length }, (_, i) => items.at(i)).map((item, i) => () => {
    const inner = scope();
    inner.own.set(loop.value, share(item));
    if (loop.index) inner.own.set(loop.index, BigInt(i));
    return rt.runSteps(loop.steps, inner, routine);
  });
}

/** Tasks running at once: `concurrency_limit` (maybe an expression), never over the host's cap. */
function concurrency(rt: Runtime, body: ParallelBody, vars: Vars): number {
  let configured = body.concurrencyLimit;
  if (body.concurrencyLimitExpr) {
    const v = rt.eval(body.concurrencyLimitExpr, vars);
    if (typeof v !== 'bigint' || v < 1n)
      raise('ValueError', `concurrency_limit must be a positive integer, got ${typeName(v)}`);
    configured = Number(v);
  }
  return Math.max(
    1,
    Math.min(configured ?? Number.POSITIVE_INFINITY, rt.host.limits.maxConcurrentBranches),
  );
}

/** Runs tasks with at most `limit` at once; each worker takes the next task when one ends. */
async function runPool(
  tasks: Task[],
  limit: number,
  policy: ParallelBody['policy'],
): Promise<Outcome> {
  const outcome: Outcome = { errors: [] };
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && outcome.fatal === undefined && !outcome.returned) {
      const id = next++;
      if (outcome.errors.length > 0 && policy === 'unhandled') return;
      try {
        // Branches take turns at each step that waits, as Google interleaves them.
        await Promise.resolve();
        await tasks[id]!();
      } catch (err) {
        // Limits end the whole parallel step as they are, not as one branch's failure.
        if (err instanceof WorkflowError && err.catchable && !isNestingError(err.value))
          outcome.errors.push({ id: String(id), error: err.value });
        else if (err instanceof Return) outcome.returned ??= err;
        else outcome.fatal = err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return outcome;
}

function isNestingError(v: Value): boolean {
  return tagsOf(v).includes('ParallelNestingError');
}

function unhandledBranches(errors: Outcome['errors']): WorkflowError {
  return builtinError(
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
