import assert from 'node:assert/strict';
import { test } from 'node:test';
import { whenAborted } from './abort.ts';

test('whenAborted: every waiter hears the abort once, a forgotten one does not, one listener in all', () => {
  const ac = new AbortController();
  let added = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
    added++;
    add(...args);
  };
  const heard: number[] = [];
  const forgets = Array.from({ length: 30 }, (_, i) => whenAborted(ac.signal, () => heard.push(i)));
  forgets[3]!();
  ac.abort();
  ac.abort();
  assert.equal(added, 1);
  assert.deepEqual(
    heard,
    Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 3),
  );
});

test('whenAborted on a signal already aborted calls at once', () => {
  let heard = 0;
  whenAborted(AbortSignal.abort(), () => heard++);
  assert.equal(heard, 1);
});
