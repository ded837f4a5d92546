import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseArgs, timeScaleOption } from './args.ts';

describe('timeScaleOption: --time-scale, else RUNWAY_TIME_SCALE, else the default', () => {
  const cases: {
    name: string;
    argv: string[];
    env: Record<string, string>;
    want: number | RegExp;
  }[] = [
    { name: 'neither: the default', argv: [], env: {}, want: 1 },
    { name: 'the environment', argv: [], env: { RUNWAY_TIME_SCALE: '20' }, want: 20 },
    {
      name: 'the flag wins over the environment',
      argv: ['--time-scale', '5'],
      env: { RUNWAY_TIME_SCALE: '20' },
      want: 5,
    },
    { name: 'a fraction', argv: [], env: { RUNWAY_TIME_SCALE: '2.5' }, want: 2.5 },
    {
      name: 'a bad environment value names the variable',
      argv: [],
      env: { RUNWAY_TIME_SCALE: 'fast' },
      want: /^RUNWAY_TIME_SCALE must be a number from 1 to 1000 \(got "fast"\)$/,
    },
    {
      name: 'an empty environment value is bad, not 0',
      argv: [],
      env: { RUNWAY_TIME_SCALE: '' },
      want: /^RUNWAY_TIME_SCALE must be/,
    },
    {
      name: 'a bad flag names the flag, even with a good environment',
      argv: ['--time-scale', '0'],
      env: { RUNWAY_TIME_SCALE: '20' },
      want: /^--time-scale must be a number from 1 to 1000/,
    },
    {
      name: 'above 1000',
      argv: [],
      env: { RUNWAY_TIME_SCALE: '5000' },
      want: /^RUNWAY_TIME_SCALE must be/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { flags } = parseArgs(c.argv, { 'time-scale': true });
      if (typeof c.want === 'number') assert.equal(timeScaleOption(flags, c.env, 1), c.want);
      else assert.throws(() => timeScaleOption(flags, c.env, 1), { message: c.want });
    });
  }
});
