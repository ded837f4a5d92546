// The variables of one routine invocation, and the child scopes a `for` body or a parallel branch
// adds over them (a branch may write only its parallel step's `shared` variables of its parent).
import type { Scope as ExprScope } from './expression.ts';
import { raise } from './errors.ts';
import type { Value } from './values.ts';

export class Vars {
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
