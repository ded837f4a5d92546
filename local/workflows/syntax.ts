// The syntax tree of a workflow after parsing: routines (main and subworkflows) made of steps.
// Values in steps are "templates": constants, compiled expressions, or lists/maps of templates.
import type { AppendForm, Compiled } from './expression.ts';
import type { Value } from './values.ts';

export type Template =
  | { k: 'const'; v: Value }
  | { k: 'expr'; e: Compiled; src: string; append?: AppendForm }
  | { k: 'list'; items: Template[] }
  | { k: 'map'; entries: [key: string, value: Template, dynamicKey?: Compiled][] };

/** An assignment target: `a`, `a.b`, `a[0]`, `a["k"].c`. */
export interface Target {
  root: string;
  path: ({ dot: string } | { index: Compiled })[];
}

export interface RetryPolicy {
  /** A subworkflow or function name, called with the error; true means retry. */
  predicate: string;
  maxRetries: Template;
  initialDelay: Template;
  maxDelay: Template;
  multiplier: Template;
}

export type StepBody =
  | { kind: 'assign'; assign: [Target, Template][] }
  | { kind: 'call'; fn: string; args: [string, Template][] | null; result: string | null }
  | { kind: 'switch'; cases: SwitchCase[] }
  | {
      kind: 'for';
      value: string;
      index: string | null;
      in: Template | null;
      /** `[begin, end]`, or one expression giving that list: `${[a, b]}`. */
      range: Template | null;
      steps: Step[];
    }
  | {
      kind: 'parallel';
      shared: string[];
      concurrencyLimit: number | null;
      /** `concurrency_limit: ${expr}`, evaluated when the step starts. */
      concurrencyLimitExpr?: Template;
      policy: 'unhandled' | 'continueAll';
      branches: Step[] | null;
      for: StepBody | null;
    }
  | {
      kind: 'try';
      body: Step[];
      retry: RetryPolicy | null;
      exceptAs: string | null;
      except: Step[] | null;
    }
  | { kind: 'raise'; value: Template }
  | { kind: 'return'; value: Template }
  | { kind: 'steps'; steps: Step[] }
  | { kind: 'none' };

export interface SwitchCase {
  condition: Template;
  next: string | null;
  steps: Step[] | null;
  ret: Template | null;
  hasReturn: boolean;
  raise: Template | null;
  assign: [Target, Template][] | null;
}

export interface Step {
  name: string;
  line: number;
  body: StepBody;
  /** Step-level `next` (after assign, call, steps…); a switch's own fallback too. */
  next: string | null;
  /** For the switch fallthrough: the step's own `next` applies when no condition matched. */
}

export interface Routine {
  name: string;
  params: { name: string; default?: Template }[];
  steps: Step[];
}

export interface Workflow {
  main: Routine;
  routines: Map<string, Routine>;
  source?: string;
}
