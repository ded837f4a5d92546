import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  convert,
  evaluate,
  ExprError,
  Lazy,
  parseExpression,
  parseTemplate,
  type Value,
} from './hcl-expr.ts';

let reads = 0;
const vars: Record<string, Value> = {
  project: 'my.google:proj',
  accounts: { ci: 'ci@p.iam.gserviceaccount.com', app: 'app@p.iam.gserviceaccount.com' },
  pipelines: { a: { job: 'a-acc' }, b: { job: 'b-acc' } },
  on: true,
  n: 3,
  names: ['x', 'y', 'x'],
};
const scope = {
  lookup: (root: string): Value | undefined => {
    if (root === 'var') return vars as Value;
    if (root === 'lazy') {
      return new Lazy(
        'lazy',
        () => ['cheap', 'costly'],
        (k) => {
          if (k === 'costly') throw new ExprError('costly was read');
          reads++;
          return k === 'cheap' ? 'cheap!' : undefined;
        },
      );
    }
    return undefined;
  },
};

const cases: { name: string; src: string; want: Value }[] = [
  { name: 'plain text', src: 'roles/run.invoker', want: 'roles/run.invoker' },
  {
    name: 'interpolation in text',
    src: 'serviceAccount:${var.accounts.ci}',
    want: 'serviceAccount:ci@p.iam.gserviceaccount.com',
  },
  { name: 'a lone interpolation keeps its type', src: '${var.n}', want: 3 },
  { name: 'index by string', src: '${var.accounts["app"]}', want: 'app@p.iam.gserviceaccount.com' },
  { name: 'escaped interpolation', src: '$${not.this}', want: '${not.this}' },
  {
    name: 'a for over a map into a set',
    src: '${toset([for p in var.pipelines : p.job])}',
    want: ['a-acc', 'b-acc'],
  },
  {
    name: 'an object for with a filter',
    src: '${{ for k, v in var.accounts : k => "serviceAccount:${v}" if k != "app" }}',
    want: { ci: 'serviceAccount:ci@p.iam.gserviceaccount.com' },
  },
  { name: 'a conditional', src: '${var.on ? 1 : 0}', want: 1 },
  { name: 'arithmetic and comparison', src: '${var.n * 2 + 1 >= 7 && !false}', want: true },
  { name: 'toset drops duplicates', src: '${toset(var.names)}', want: ['x', 'y'] },
  {
    name: 'nested replace, as the CI bucket name is made',
    src: '${replace(replace(replace(var.project, ":", "_"), ".", "_"), "google", "elgoog")}_cloudbuild',
    want: 'my_elgoog_proj_cloudbuild',
  },
  { name: 'coalesce skips null', src: '${coalesce(null, "x")}', want: 'x' },
  { name: 'keys sorted', src: '${keys(var.accounts)}', want: ['app', 'ci'] },
  { name: 'format', src: '${format("%s-%d", "a", 2)}', want: 'a-2' },
  { name: 'a splat', src: '${[{ n = 1 }, { n = 2 }][*].n}', want: [1, 2] },
  {
    name: 'a quoted string in an expression with its own template',
    src: '${"a-${var.n}"}',
    want: 'a-3',
  },
  { name: 'jsonencode', src: '${jsonencode({ verify = false })}', want: '{"verify":false}' },
  { name: 'a lazy object is read only where used', src: '${lazy.cheap}', want: 'cheap!' },
  // The pipeline module's regions: coalescelist for the default, setsubtract for the others.
  { name: 'coalescelist skips an empty list', src: '${coalescelist([], ["a"])}', want: ['a'] },
  {
    name: 'coalescelist keeps the first non-empty list',
    src: '${coalescelist(var.names, ["a"])}',
    want: ['x', 'y', 'x'],
  },
  {
    name: 'contains',
    src: '${[contains(var.names, "y"), contains(var.names, "z")]}',
    want: [true, false],
  },
  { name: 'setsubtract', src: '${setsubtract(["a", "b", "c", "a"], ["b"])}', want: ['a', 'c'] },
  { name: 'setsubtract of everything', src: '${setsubtract(var.names, ["x", "y"])}', want: [] },
  {
    name: 'setintersection',
    src: '${setintersection(["a", "b", "c"], ["c", "a"], ["a", "c", "d"])}',
    want: ['a', 'c'],
  },
];

for (const c of cases) {
  test(`evaluate: ${c.name}`, () => {
    assert.deepEqual(evaluate(parseTemplate(c.src), scope), c.want);
  });
}

test('a lazy attribute nobody reads is never computed', () => {
  reads = 0;
  evaluate(parseTemplate('${lazy.cheap}'), scope);
  assert.equal(reads, 1);
  assert.throws(() => evaluate(parseTemplate('${lazy.costly}'), scope), /costly was read/);
});

const errors: { name: string; src: string; error: RegExp }[] = [
  { name: 'an unknown root', src: '${nope.x}', error: /nope is not a known reference/ },
  {
    name: 'a missing attribute',
    src: '${var.accounts.deployer}',
    error: /var\.accounts has no attribute deployer/,
  },
  { name: 'an index out of range', src: '${var.names[5]}', error: /has no element 5/ },
  {
    name: 'an object where text is wanted',
    src: 'x-${var.accounts}',
    error: /var\.accounts is object, not a string/,
  },
  { name: 'an unknown function', src: '${uuid()}', error: /uuid\(\) is not supported/ },
  { name: 'a directive', src: '%{ if true }x%{ endif }', error: /directives/ },
  { name: 'an unterminated interpolation', src: '${var.n', error: /expected \}/ },
  { name: 'a heredoc', src: '${<<EOT\nx\nEOT}', error: /heredoc/ },
  {
    name: 'setsubtract of a map',
    src: '${setsubtract(var.accounts, ["a"])}',
    error: /setsubtract\(\) wants a list, not object/,
  },
];

for (const c of errors) {
  test(`evaluate refuses: ${c.name}`, () => {
    assert.throws(
      () => evaluate(parseTemplate(c.src), scope),
      (e: unknown) => e instanceof ExprError && c.error.test(e.message),
    );
  });
}

test('type constraints: optional defaults, sets, primitives, comments inside', () => {
  const t = parseExpression(`map(object({
    staging = string
    # a comment, as infra/ has in its types
    public  = optional(bool, false)
    steps   = optional(set(number))
  }))`);
  assert.deepEqual(convert({ a: { staging: 's', steps: [10, 10, '50'] } }, t, 'var.p'), {
    a: { staging: 's', public: false, steps: [10, 50] },
  });
  assert.throws(
    () => convert({ a: {} }, t, 'var.p'),
    /var\.p\["a"\] lacks the required attribute staging/,
  );
  assert.throws(() => convert('x', t, 'var.p'), /var\.p is string, not a map/);
  assert.equal(convert('true', parseExpression('bool'), 'v'), true);
  assert.equal(convert(5, parseExpression('string'), 'v'), '5');
});
