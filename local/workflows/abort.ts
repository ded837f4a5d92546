// One abort listener per signal, however many wait on it: an execution's parallel branches all
// wait on its one signal, and Node warns past 10 listeners on one (MaxListenersExceededWarning).
const waiting = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `onAbort` when `signal` aborts (at once if it has); returns the function that forgets it. */
export function whenAborted(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  let set = waiting.get(signal);
  if (!set) {
    const waiters = new Set<() => void>();
    set = waiters;
    waiting.set(signal, waiters);
    signal.addEventListener(
      'abort',
      () => {
        waiting.delete(signal);
        for (const waiter of waiters) waiter();
      },
      { once: true },
    );
  }
  const waiters = set;
  waiters.add(onAbort);
  return () => waiters.delete(onAbort);
}
