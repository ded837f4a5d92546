// A clock that only moves when a test moves it: `sleep` waits until `advance` passes its end, so
// schedules, backoffs and deadlines are driven without waiting for wall time.
import type { Clock } from '../../local/workflows/stdlib/types.ts';

interface Sleeper {
  at: number;
  resolve: () => void;
}

export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, waking each sleeper at its own instant, in order. */
  advance(ms: number): Promise<void>;
  /** Moves time to `at` (epoch ms), as advance does. */
  advanceTo(at: number): Promise<void>;
  /** The ends of the sleeps now pending, soonest first. */
  pending(): number[];
}

/** Lets promise chains and loopback I/O started by a woken sleeper run before time moves on. */
const settle = () => new Promise<void>((r) => setTimeout(r, 5));

export function manualClock(start: number): ManualClock {
  let now = start;
  const sleepers = new Set<Sleeper>();
  const advanceTo = async (target: number) => {
    for (;;) {
      const due = [...sleepers].filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      now = Math.max(now, due.at);
      sleepers.delete(due);
      due.resolve();
      await settle();
    }
    now = Math.max(now, target);
    await settle();
  };
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(new Error('aborted'));
        const s: Sleeper = { at: now + ms, resolve };
        sleepers.add(s);
        signal.addEventListener(
          'abort',
          () => {
            sleepers.delete(s);
            reject(new Error('aborted'));
          },
          { once: true },
        );
      }),
    advance: (ms) => advanceTo(now + ms),
    advanceTo,
    pending: () => [...sleepers].map((s) => s.at).sort((a, b) => a - b),
  };
}
