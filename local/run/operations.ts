// google.longrunning operations of the local Cloud Run: created by every mutation, done when the
// change has settled (a revision ready or failed, an execution finished), readable, listable and
// waitable through the API the way Google's clients poll them.
import { randomUUID } from 'node:crypto';
import { notFound, rpcCodeNumbers, toRunwayError } from '../../services/shared/errors.ts';
import type { JsonObject } from './proto-json.ts';

const TYPE = 'type.googleapis.com/google.cloud.run.v2.';

export interface Operation {
  name: string;
  done: boolean;
  createTime: number;
  /** The message type of metadata and response: `Service`, `Revision`, `Job`, `Execution`. */
  kind: string;
  metadata: () => JsonObject;
  response?: JsonObject;
  error?: { code: number; message: string; details: unknown[] };
}

export class Operations {
  readonly #ops = new Map<string, Operation>();
  readonly #waiters = new Map<string, Set<() => void>>();

  constructor(readonly maxKept = 10_000) {}

  create(parent: string, kind: string, metadata: () => JsonObject): Operation {
    const op: Operation = {
      name: `${parent}/operations/${randomUUID()}`,
      done: false,
      createTime: Date.now(),
      kind,
      metadata,
    };
    this.#ops.set(op.name, op);
    if (this.#ops.size > this.maxKept) {
      for (const [name, old] of this.#ops) {
        if (old.done) {
          this.#ops.delete(name);
          break;
        }
      }
    }
    return op;
  }

  succeed(op: Operation, response: JsonObject): void {
    if (op.done) return;
    op.response = response;
    this.#finish(op);
  }

  fail(op: Operation, err: unknown): void {
    if (op.done) return;
    const e = toRunwayError(err);
    op.error = { code: rpcCodeNumbers[e.code], message: e.message, details: [] };
    this.#finish(op);
  }

  #finish(op: Operation): void {
    op.done = true;
    for (const wake of this.#waiters.get(op.name) ?? []) wake();
    this.#waiters.delete(op.name);
  }

  get(name: string): Operation {
    const op = this.#ops.get(name);
    if (!op) throw notFound(`Operation '${name}' was not found.`);
    return op;
  }

  list(parent: string): Operation[] {
    return [...this.#ops.values()].filter((op) => op.name.startsWith(`${parent}/operations/`));
  }

  delete(name: string): void {
    this.get(name);
    this.#ops.delete(name);
  }

  /** Resolves when the operation is done or `timeoutMs` has passed. */
  async wait(name: string, timeoutMs: number): Promise<Operation> {
    const op = this.get(name);
    if (op.done) return op;
    await new Promise<void>((resolve) => {
      const set = this.#waiters.get(name) ?? new Set();
      this.#waiters.set(name, set);
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      set.add(wake);
    });
    return op;
  }

  render(op: Operation): JsonObject {
    const metadata = { '@type': `${TYPE}${op.kind}`, ...op.metadata() };
    if (!op.done) return { name: op.name, metadata, done: false };
    if (op.error) return { name: op.name, metadata, done: true, error: op.error as JsonObject };
    return {
      name: op.name,
      metadata,
      done: true,
      response: { '@type': `${TYPE}${op.kind}`, ...op.response },
    };
  }
}
