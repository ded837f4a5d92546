import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunwayError } from '../../services/shared/errors.ts';
import {
  builtInValues,
  checkSubstitutionMap,
  checkTemplates,
  evalDynamic,
  expandTemplate,
  type SubstitutableBuild,
  substituteBuild,
  templateParameters,
} from './substitutions.ts';

const builtIns = builtInValues({
  projectId: 'p1',
  buildId: 'b-1',
  location: 'us-central1',
  projectNumber: '123',
});

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RunwayError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('templates', () => {
  const values = { ...builtIns, _FOO: 'foo', COMMIT_SHA: 'abc' };
  for (const [name, input, want] of [
    ['plain text', 'hello', 'hello'],
    ['unbraced', '$_FOO', 'foo'],
    ['braced, glued to text', '${_FOO}BAR', 'fooBAR'],
    ['unbraced takes the longest key', '$_FOOBAR', ''],
    ['built-in', 'gcr.io/$PROJECT_ID/x:$BUILD_ID', 'gcr.io/p1/x:b-1'],
    ['$$ is a literal $', '$$_FOO', '$_FOO'],
    ['$$$ is $ then the value', '$$$_FOO', '$foo'],
    ['$$$$ is two literal $', '$$$$', '$$'],
    ['lower case is no key', '$home ${x}', '$home ${x}'],
    ['a bash expansion in a template stays', '${_FOO:0:2}', '${_FOO:0:2}'],
    ['unclosed brace stays', '${_FOO', '${_FOO'],
    ['lone $ at the end', 'cost $', 'cost $'],
    ['trigger built-in empty outside triggers', '[$BRANCH_NAME]', '[]'],
    ['passed built-in', '${COMMIT_SHA}', 'abc'],
    ['digits cannot start a key', '$1 $$1', '$1 $1'],
    ['unicode around keys', 'é$_FOO€', 'éfoo€'],
  ] as const) {
    test(name, () => assert.equal(expandTemplate(input, values), want));
  }

  test('parameters carry their span', () => {
    assert.deepEqual(templateParameters('a${_X}$$b'), [
      { start: 1, end: 6, key: '_X' },
      { start: 6, end: 8 },
    ]);
  });
});

describe('the substitution map', () => {
  const ok: [string, Record<string, string>][] = [
    ['user keys', { _A: 'a', _B_2: 'b' }],
    [
      'overridable built-ins',
      {
        COMMIT_SHA: 'x',
        SHORT_SHA: 'x',
        BRANCH_NAME: 'x',
        TAG_NAME: 'x',
        REPO_NAME: 'x',
        REVISION_ID: 'x',
      },
    ],
    ['a value of exactly 4000 bytes', { _A: 'x'.repeat(4000) }],
  ];
  for (const [name, map] of ok) test(`accepts ${name}`, () => checkSubstitutionMap(map));

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a key without underscore', { FOO: 'x' }, /"FOO" does not respect format/],
    ['a lower-case user key', { _foo: 'x' }, /"_foo" does not respect format/],
    ['a lone underscore', { _: 'x' }, /"_" does not respect format/],
    ['PROJECT_ID', { PROJECT_ID: 'x' }, /not an overridable built-in/],
    ['BUILD_ID', { BUILD_ID: 'x' }, /not an overridable built-in/],
    ['a key with a $', { _A$: 'x' }, /does not respect format/],
    ['a key of 101 bytes', { [`_${'A'.repeat(100)}`]: 'x' }, /too long \(max: 100\)/],
    ['a value of 4001 bytes', { _A: 'x'.repeat(4001) }, /_A too long .*max: 4000/],
    ['a multi-byte value over 4000 bytes', { _A: 'é'.repeat(2001) }, /too long/],
    [
      '101 keys',
      Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`_K${i}`, 'v'])),
      /number of substitutions 101 exceeded \(max: 100\)/,
    ],
  ];
  for (const [name, map, pattern] of bad) {
    test(`refuses ${name}`, () => refused(() => checkSubstitutionMap(map), pattern));
  }
});

describe('MUST_MATCH and ALLOW_LOOSE', () => {
  const cases: {
    name: string;
    templates: string[];
    map: Record<string, string>;
    strict: RegExp | null;
    loose: RegExp | null;
  }[] = [
    {
      name: 'all matched',
      templates: ['$_A', '${_B}'],
      map: { _A: '1', _B: '2' },
      strict: null,
      loose: null,
    },
    {
      name: 'a passed key the template does not use',
      templates: ['$_A'],
      map: { _A: '1', _UNUSED: '2' },
      strict: /key "_UNUSED" in the substitution data is not matched in the template/,
      loose: null,
    },
    {
      name: 'a template key not given',
      templates: ['$_MISSING'],
      map: {},
      strict:
        /key in the template "_MISSING" is not matched in the substitution data; substitutions = map\[\]/,
      loose: null,
    },
    {
      name: 'a passed built-in the template does not use',
      templates: ['x'],
      map: { COMMIT_SHA: 'abc' },
      strict: /key "COMMIT_SHA" in the substitution data is not matched/,
      loose: null,
    },
    {
      name: 'a built-in not given is empty, no error',
      templates: ['$COMMIT_SHA $LOCATION'],
      map: {},
      strict: null,
      loose: null,
    },
    {
      name: 'a shell variable that is no built-in, even when loose',
      templates: ['echo $HOME'],
      map: {},
      strict: /key in the template "HOME" is not a valid built-in substitution/,
      loose: /key in the template "HOME" is not a valid built-in substitution/,
    },
    {
      name: 'an escaped shell variable',
      templates: ['echo $$HOME'],
      map: {},
      strict: null,
      loose: null,
    },
    {
      name: 'a key used only inside another value is unused',
      templates: ['${_IMAGE}'],
      map: { _IMAGE: '${_REPO}/x', _REPO: 'r' },
      strict: /key "_REPO" in the substitution data is not matched/,
      loose: null,
    },
    {
      name: 'both problems at once, joined',
      templates: ['$_X'],
      map: { _Y: '1' },
      strict: /"_X" is not matched in the substitution data; substitutions = map\[_Y:1\];key "_Y"/,
      loose: null,
    },
  ];
  for (const c of cases) {
    test(`${c.name} (MUST_MATCH)`, () => {
      if (c.strict) refused(() => checkTemplates(c.templates, c.map, false), c.strict);
      else checkTemplates(c.templates, c.map, false);
    });
    test(`${c.name} (ALLOW_LOOSE)`, () => {
      if (c.loose) refused(() => checkTemplates(c.templates, c.map, true), c.loose);
      else checkTemplates(c.templates, c.map, true);
    });
  }
});

describe('dynamic substitutions', () => {
  const cases: [string, Record<string, string>, Record<string, string>][] = [
    [
      'a built-in inside a value',
      { _IMAGE: 'gcr.io/${PROJECT_ID}/app' },
      { _IMAGE: 'gcr.io/p1/app' },
    ],
    ['a value that is exactly $NAME', { _A: '$PROJECT_ID' }, { _A: 'p1' }],
    ['$NAME inside a longer value stays', { _A: 'x-$PROJECT_ID-y' }, { _A: 'x-$PROJECT_ID-y' }],
    [
      'values referring to values, in any order',
      { _C: '${_B}-c', _B: '${_A}-b', _A: 'a' },
      { _A: 'a', _B: 'a-b', _C: 'a-b-c' },
    ],
    ['upper case', { _A: 'hello', _B: '${_A^^}' }, { _A: 'hello', _B: 'HELLO' }],
    ['upper first', { _A: 'hello', _B: '${_A^}' }, { _A: 'hello', _B: 'Hello' }],
    ['lower case', { _A: 'HeLLo', _B: '${_A,,}' }, { _A: 'HeLLo', _B: 'hello' }],
    ['lower first', { _A: 'HELLO', _B: '${_A,}' }, { _A: 'HELLO', _B: 'hELLO' }],
    ['offset', { TAG_NAME: 'v0-1-1', _B: '${TAG_NAME:1}' }, { TAG_NAME: 'v0-1-1', _B: '0-1-1' }],
    [
      'offset and length',
      { COMMIT_SHA: 'abcdef123', _S: '${COMMIT_SHA:0:5}' },
      { COMMIT_SHA: 'abcdef123', _S: 'abcde' },
    ],
    ['negative offset with a space', { _A: 'abcdef', _B: '${_A: -2}' }, { _A: 'abcdef', _B: 'ef' }],
    ['offset past the end', { _A: 'abc', _B: '${_A:10}' }, { _A: 'abc', _B: '' }],
    ['length', { _A: 'abcd', _B: '${#_A}' }, { _A: 'abcd', _B: '4' }],
    ['replace all', { _A: 'a-b-c', _B: '${_A//-/_}' }, { _A: 'a-b-c', _B: 'a_b_c' }],
    ['replace first', { _A: 'a-b-c', _B: '${_A/-/_}' }, { _A: 'a-b-c', _B: 'a_b-c' }],
    [
      'replace a prefix',
      { _A: 'refs/heads/main', _B: '${_A/#refs\\/heads/x}' },
      { _A: 'refs/heads/main', _B: 'x/main' },
    ],
    ['replace with nothing', { _A: 'a/b', _B: '${_A//\\/}' }, { _A: 'a/b', _B: 'ab' }],
    [
      'branch slashes to dashes',
      { BRANCH_NAME: 'feature/x/y', _B: '${BRANCH_NAME//\\//-}' },
      { BRANCH_NAME: 'feature/x/y', _B: 'feature-x-y' },
    ],
    ['shortest prefix glob', { _A: 'a_b_c', _B: '${_A#*_}' }, { _A: 'a_b_c', _B: 'b_c' }],
    ['longest prefix glob', { _A: 'a_b_c', _B: '${_A##*_}' }, { _A: 'a_b_c', _B: 'c' }],
    ['shortest suffix glob', { _A: 'a.tar.gz', _B: '${_A%.*}' }, { _A: 'a.tar.gz', _B: 'a.tar' }],
    ['longest suffix glob', { _A: 'a.tar.gz', _B: '${_A%%.*}' }, { _A: 'a.tar.gz', _B: 'a' }],
    [
      'a glob that does not match',
      { _A: 'car409-patch-1', _B: '${_A#*_}' },
      { _A: 'car409-patch-1', _B: 'car409-patch-1' },
    ],
    ['default when empty or unset', { _B: '${_NOPE:-${PROJECT_ID}}' }, { _B: 'p1' }],
    [
      'default when unset only',
      { _E: '', _B: '${_E-dflt}', _C: '${_E:-dflt}' },
      { _E: '', _B: '', _C: 'dflt' },
    ],
    ['assign-default form', { _B: '${_NOPE:=d}' }, { _B: 'd' }],
    ['an unknown name is empty', { _B: '[${_NOPE}]' }, { _B: '[]' }],
    ['a trigger built-in is empty', { _B: '${BRANCH_NAME}' }, { _B: '' }],
    ['text between expansions', { _A: 'x', _B: '${_A}+${_A}*${_A}' }, { _A: 'x', _B: 'x+x*x' }],
    [
      'nested expansions in arguments',
      { _A: 'a-b', _R: '_', _B: '${_A//-/${_R}}' },
      { _A: 'a-b', _R: '_', _B: 'a_b' },
    ],
  ];
  for (const [name, map, want] of cases) {
    test(name, () => assert.deepEqual(evalDynamic(map, builtIns), want));
  }

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a self loop', { _A: '${_A^^}' }, /\[_A -> \$\{_A\^\^\}\]: cycle in evaluating substitutions/],
    [
      'a chained loop',
      { _A: '${_B}', _B: '${_C}', _C: '$_A' },
      /cycle in evaluating substitutions/,
    ],
    [
      'a name that is an expansion',
      { _A: '${${_B}}' },
      /\[_A -> \$\{\$\{_B\}\}\]: bad substitution/,
    ],
    ['an unknown operator', { _A: '${_B@Q}' }, /bad substitution/],
    ['a non-numeric offset', { _A: 'x', _B: '${_A:x}' }, /bad substitution/],
    ['an unclosed expansion', { _A: '${_B' }, /missing closing brace/],
    ['an empty expansion', { _A: '${}' }, /bad substitution/],
    [
      'an exponential blow-up stops at the limit',
      { _A: 'xxxxxxxxxx', _B: '${_A//x/${_A//x/${_A//x/${_A//x/${_A}}}}}' },
      /_B .*longer than 4000 bytes once expanded/,
    ],
  ];
  for (const [name, map, pattern] of bad) {
    test(`refuses ${name}`, () => refused(() => evalDynamic(map, builtIns), pattern));
  }

  test('a deep chain of 100 references evaluates', () => {
    const map: Record<string, string> = { _K0: 'v' };
    for (let i = 1; i < 100; i++) map[`_K${i}`] = `\${_K${i - 1}}`;
    assert.equal(evalDynamic(map, builtIns)._K99, 'v');
  });
});

describe('a whole build', () => {
  const base = (over: Partial<SubstitutableBuild> = {}): SubstitutableBuild => ({
    steps: [
      {
        name: 'node:$_NODE',
        args: ['echo', '${_IMAGE}:$COMMIT_SHA', '$$HOME'],
        env: ['X=$_NODE'],
        dir: '',
        entrypoint: '',
      },
    ],
    images: ['${_IMAGE}:$COMMIT_SHA'],
    tags: [],
    substitutions: { _NODE: '20', _IMAGE: 'gcr.io/${PROJECT_ID}/app', COMMIT_SHA: 'c0ffee' },
    options: { substitutionOption: 'MUST_MATCH', dynamicSubstitutions: true },
    ...over,
  });

  test('steps and images are rewritten with dynamic values', () => {
    const { build, values } = substituteBuild(base(), builtIns);
    assert.deepEqual(build.steps[0], {
      name: 'node:20',
      args: ['echo', 'gcr.io/p1/app:c0ffee', '$HOME'],
      env: ['X=20'],
      dir: '',
      entrypoint: '',
    });
    assert.deepEqual(build.images, ['gcr.io/p1/app:c0ffee']);
    assert.equal(values.BUILD_ID, 'b-1');
  });

  test('without dynamic substitutions a value is inserted as written', () => {
    const { build } = substituteBuild(
      base({ options: { substitutionOption: 'MUST_MATCH', dynamicSubstitutions: false } }),
      builtIns,
    );
    assert.deepEqual(build.images, ['gcr.io/${PROJECT_ID}/app:c0ffee']);
  });

  test('runway cloudbuild.yaml without COMMIT_SHA gives empty tags, as the review found', () => {
    const { build } = substituteBuild(
      base({
        substitutions: { _NODE: '20', _IMAGE: 'gcr.io/${PROJECT_ID}/app' },
        options: { substitutionOption: 'ALLOW_LOOSE', dynamicSubstitutions: true },
      }),
      builtIns,
    );
    assert.deepEqual(build.images, ['gcr.io/p1/app:']);
  });

  test('a value is not substituted twice (no injection through values)', () => {
    const { build } = substituteBuild(
      base({
        substitutions: { _NODE: '$PROJECT_ID', _IMAGE: '$$x', COMMIT_SHA: '${_NODE}' },
        options: { substitutionOption: 'MUST_MATCH', dynamicSubstitutions: false },
      }),
      builtIns,
    );
    assert.deepEqual(build.images, ['$$x:${_NODE}']);
  });
});
