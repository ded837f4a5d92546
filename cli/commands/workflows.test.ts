// How `runway workflows run` reads user-defined environment variables from its flags, as gcloud
// reads `--set-env-vars` and `--env-vars-file`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEnvVarsFile, parseSetEnvVars } from './workflows.ts';

describe('parseSetEnvVars', () => {
  const cases: { name: string; text: string; vars?: Record<string, string>; error?: RegExp }[] = [
    { name: 'one pair', text: 'MONTH=January', vars: { MONTH: 'January' } },
    { name: 'pairs split at commas', text: 'A=1,B=2', vars: { A: '1', B: '2' } },
    { name: 'split at the first =', text: 'EQ=a=b', vars: { EQ: 'a=b' } },
    { name: 'an empty value', text: 'EMPTY=', vars: { EMPTY: '' } },
    { name: 'nothing', text: '', vars: {} },
    { name: 'a later pair wins', text: 'A=1,A=2', vars: { A: '2' } },
    {
      name: 'another delimiter between carets',
      text: '^@^KEY1=V1,V2,V3@KEY2=V2',
      vars: { KEY1: 'V1,V2,V3', KEY2: 'V2' },
    },
    { name: 'a pair without =', text: 'A=1,B', error: /"B" is not KEY=VALUE/ },
    { name: 'a comma inside a value', text: 'A=1,2', error: /"2" is not KEY=VALUE/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.error) assert.throws(() => parseSetEnvVars(c.text), c.error);
      else assert.deepEqual(parseSetEnvVars(c.text), c.vars);
    });
  }
});

describe('parseEnvVarsFile', () => {
  const cases: { name: string; text: string; vars?: Record<string, string>; error?: RegExp }[] = [
    { name: 'a map of strings', text: 'A: "1"\nB: two\n', vars: { A: '1', B: 'two' } },
    { name: 'an empty file', text: '', vars: {} },
    { name: 'a number value', text: 'A: 1\n', error: /value of A must be a string; quote it/ },
    { name: 'a list', text: '- A\n', error: /expected a map/ },
    { name: 'not YAML', text: 'A: [\n', error: /not YAML/ },
    { name: 'a repeated key', text: 'A: "1"\nA: "2"\n', error: /not YAML/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      if (c.error) assert.throws(() => parseEnvVarsFile(c.text, 'vars.yaml'), c.error);
      else assert.deepEqual(parseEnvVarsFile(c.text, 'vars.yaml'), c.vars);
    });
  }
});
