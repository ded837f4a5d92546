// User-defined environment variables: what a deployment refuses ("Use environment variables",
// Reserved names; Workflows API Workflow.userEnvVars limits).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { USER_ENV_VARS_LIMITS, userEnvVarsProblem } from './sys.ts';

const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`K${i}`, 'v']));

describe('userEnvVarsProblem', () => {
  const cases: { name: string; vars: Record<string, string>; problem?: RegExp }[] = [
    { name: 'no variables', vars: {} },
    { name: 'plain names and values', vars: { MONTH: 'January', EMPTY: '' } },
    { name: 'twenty variables', vars: many(USER_ENV_VARS_LIMITS.count) },
    { name: 'twenty-one variables', vars: many(21), problem: /at most 20 .* found 21/ },
    { name: 'an empty name', vars: { '': 'x' }, problem: /cannot be empty/ },
    { name: 'GOOGLE_ prefix', vars: { GOOGLE_X: '1' }, problem: /GOOGLE_X is reserved/ },
    { name: 'WORKFLOWS_ prefix', vars: { WORKFLOWS_X: '1' }, problem: /WORKFLOWS_X is reserved/ },
    { name: 'GOOGLE without underscore', vars: { GOOGLEY: '1' } },
    { name: 'a 4 KiB value', vars: { BIG: 'x'.repeat(4096) } },
    { name: 'a value over 4 KiB', vars: { BIG: 'x'.repeat(4097) }, problem: /BIG is longer/ },
    {
      name: 'a value over 4 KiB in UTF-8 bytes',
      vars: { BIG: 'é'.repeat(2049) },
      problem: /longer than 4096 bytes/,
    },
    { name: 'a name over 4 KiB', vars: { ['N'.repeat(4097)]: 'v' }, problem: /name N+… is longer/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const problem = userEnvVarsProblem(c.vars);
      if (c.problem) assert.match(problem ?? '', c.problem);
      else assert.equal(problem, undefined);
    });
  }
});
