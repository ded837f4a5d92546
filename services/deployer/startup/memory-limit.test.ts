// Both ways of limiting a process's memory give the V8 heap Node would choose inside Cloud Run's
// limit: the cgroup where this machine lets us make one, the flags everywhere else.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type MemoryLimit, memoryLimit } from './memory-limit.ts';

const MIB = 512;
const probe = [
  '-e',
  `const v8 = require('node:v8');
   const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
   console.log(JSON.stringify({ limitMb: v8.getHeapStatistics().heap_size_limit / 2 ** 20,
     youngMb: young.space_size / 2 ** 20, constrained: process.constrainedMemory?.() ?? 0 }));`,
];

function heapUnder(limit: MemoryLimit): {
  limitMb: number;
  youngMb: number;
  constrained: number;
} {
  const [command, ...args] = limit.wrap([process.execPath, ...probe]);
  return JSON.parse(execFileSync(command!, args, { encoding: 'utf8' }));
}

const empty = mkdtempSync(join(tmpdir(), 'runway-cgroup-'));
after(() => rmSync(empty, { recursive: true, force: true }));

const cases: { name: string; limit: () => MemoryLimit; how?: RegExp }[] = [
  { name: "this machine's way", limit: () => memoryLimit(MIB) },
  {
    name: 'no cgroup filesystem: V8 flags',
    limit: () => memoryLimit(MIB, { cgroupRoot: join(empty, 'nothing') }),
    how: /^V8 flags$/,
  },
  {
    name: 'a cgroup v1 memory controller that refuses a new group: V8 flags',
    limit: () => {
      // A v1 controller is found, but the group's directory cannot be made (its parent is missing).
      mkdirSync(join(empty, 'v1', 'memory'), { recursive: true });
      writeFileSync(join(empty, 'v1', 'memory', 'memory.limit_in_bytes'), '0');
      return memoryLimit(MIB, { cgroupRoot: join(empty, 'v1'), name: 'no/such/parent' });
    },
    how: /^V8 flags$/,
  },
];
for (const c of cases) {
  test(`memory limit, ${c.name}: V8's heap is sized for ${MIB} MiB`, async () => {
    const limit = c.limit();
    try {
      if (c.how) assert.match(limit.how, c.how);
      const heap = heapUnder(limit);
      // Node's defaults on this machine would be gigabytes and a 16 MiB semi-space.
      assert.ok(heap.limitMb <= MIB * 0.6, `heap limit ${heap.limitMb} MB under ${limit.how}`);
      assert.ok(heap.youngMb <= 4, `young generation ${heap.youngMb} MB under ${limit.how}`);
      if (limit.how !== 'V8 flags') assert.equal(heap.constrained, MIB * 2 ** 20);
    } finally {
      await limit.close();
    }
    if (limit.dir) assert.equal(existsSync(limit.dir), false, `${limit.dir} is left behind`);
  });
}

test('the flags are what V8 chooses itself inside the cgroup', async (t) => {
  const limit = memoryLimit(MIB);
  try {
    if (limit.how === 'V8 flags') return t.skip('no cgroup can be made on this machine');
    const inside = heapUnder(limit);
    // The fallback's command line: heapFlags(MIB) on node's.
    const flagged = heapUnder(memoryLimit(MIB, { cgroupRoot: join(empty, 'nothing') }));
    assert.equal(flagged.youngMb, inside.youngMb);
    // V8 adds the young generation to the old one's limit either way.
    assert.ok(
      Math.abs(flagged.limitMb - inside.limitMb) <= 16,
      `${flagged.limitMb} vs ${inside.limitMb}`,
    );
  } finally {
    await limit.close();
  }
});
