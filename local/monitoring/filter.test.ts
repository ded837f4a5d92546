// Monitoring's filter language for time series: what each filter matches, and the filters
// refused as malformed (400), hostile (too long, too deep: 400) or valid but not evaluated (501).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunwayError } from '../../services/shared/errors.ts';
import { MAX_FILTER_LENGTH, parseFilter, type Subject } from './filter.ts';

const LAT = 'run.googleapis.com/request_latencies';
const series = (revision: string, codeClass: string): Subject => ({
  project: 'demo',
  metricType: LAT,
  resourceType: 'cloud_run_revision',
  metric: { response_code_class: codeClass },
  resource: { service_name: 'web', revision_name: revision, location: 'us-central1' },
});
const ALL = [
  series('web-a', '2xx'),
  series('web-a', '5xx'),
  series('web-b', '2xx'),
  series('web-b', '4xx'),
  series('web-b', '5xx'),
];
const name = (s: Subject) => `${s.resource.revision_name}/${s.metric.response_code_class}`;
const M = `metric.type = "${LAT}"`;

describe('filters: what they match', () => {
  const cases: { name: string; filter: string; want: string[] }[] = [
    {
      name: 'the metric alone',
      filter: M,
      want: ['web-a/2xx', 'web-a/5xx', 'web-b/2xx', 'web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'one revision',
      filter: `${M} AND resource.labels.revision_name = "web-b"`,
      want: ['web-b/2xx', 'web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'resource.label (singular) and no spaces',
      filter: `metric.type="${LAT}" AND resource.label.revision_name="web-a"`,
      want: ['web-a/2xx', 'web-a/5xx'],
    },
    {
      name: 'juxtaposed terms are joined by AND (as in alert policy YAML)',
      filter: `resource.type = "cloud_run_revision"\n${M}\nmetric.labels.response_code_class = "5xx"`,
      want: ['web-a/5xx', 'web-b/5xx'],
    },
    {
      name: 'inequality',
      filter: `${M} AND metric.labels.response_code_class != "2xx"`,
      want: ['web-a/5xx', 'web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'one_of',
      filter: `${M} AND metric.labels.response_code_class = one_of("4xx", "5xx")`,
      want: ['web-a/5xx', 'web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'starts_with, ends_with, has_substring',
      filter: `${M} AND resource.labels.revision_name = starts_with("web-") AND resource.labels.revision_name = ends_with("a") AND resource.labels.service_name = has_substring("e")`,
      want: ['web-a/2xx', 'web-a/5xx'],
    },
    {
      name: 'NOT and parentheses',
      filter: `${M} AND NOT (resource.labels.revision_name = "web-b" AND metric.labels.response_code_class = "2xx")`,
      want: ['web-a/2xx', 'web-a/5xx', 'web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'OR binds tighter than AND, as in Google’s filter grammar (AIP-160)',
      filter: `${M} AND metric.labels.response_code_class = "4xx" OR metric.labels.response_code_class = "5xx" AND resource.labels.revision_name = "web-b"`,
      want: ['web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'single quotes and escaped quotes',
      filter: `metric.type = '${LAT}' AND resource.labels.revision_name != "we\\"b"`,
      want: ['web-a/2xx', 'web-a/5xx', 'web-b/2xx', 'web-b/4xx', 'web-b/5xx'],
    },
    {
      name: 'a label the series do not have: = never matches, != always does',
      filter: `${M} AND (metric.labels.route = "x" OR metric.labels.route != "y")`,
      want: ['web-a/2xx', 'web-a/5xx', 'web-b/2xx', 'web-b/4xx', 'web-b/5xx'],
    },
    { name: 'another resource type', filter: `${M} AND resource.type = "gce_instance"`, want: [] },
    { name: 'another project', filter: `${M} AND project = "other"`, want: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const f = parseFilter(c.filter);
      assert.equal(f.metricType, LAT);
      assert.deepEqual(ALL.filter(f.matches).map(name), c.want);
    });
  }
  test('get() reads the value a top-level equality pins', () => {
    const f = parseFilter(
      `${M} AND resource.label.revision_name = "web-b" AND (metric.labels.response_code_class = "5xx" OR metric.labels.response_code_class = "4xx")`,
    );
    assert.equal(f.get('resource.labels.revision_name'), 'web-b');
    assert.equal(f.get('metric.labels.response_code_class'), undefined);
  });
});

describe('filters: refused', () => {
  const cases: { name: string; filter: string; code: string; message: RegExp }[] = [
    {
      name: 'empty',
      filter: '',
      code: 'INVALID_ARGUMENT',
      message: /must specify a single metric type/,
    },
    {
      name: 'no metric type',
      filter: 'resource.type = "cloud_run_revision"',
      code: 'INVALID_ARGUMENT',
      message: /must specify a single metric type/,
    },
    {
      name: 'two metric types',
      filter: `${M} AND metric.type = "x"`,
      code: 'INVALID_ARGUMENT',
      message: /must specify a single metric type/,
    },
    {
      name: 'a metric type only inside OR',
      filter: `${M} OR metric.type = "x"`,
      code: 'INVALID_ARGUMENT',
      message: /must specify a single metric type/,
    },
    {
      name: 'a metric type negated',
      filter: `NOT ${M}`,
      code: 'INVALID_ARGUMENT',
      message: /must specify a single metric type/,
    },
    {
      name: 'an unquoted value',
      filter: 'metric.type = run.googleapis.com/request_count',
      code: 'INVALID_ARGUMENT',
      message: /expected a quoted string/,
    },
    {
      name: 'an unterminated string',
      filter: 'metric.type = "run',
      code: 'INVALID_ARGUMENT',
      message: /unterminated string/,
    },
    {
      name: 'a missing value',
      filter: 'metric.type =',
      code: 'INVALID_ARGUMENT',
      message: /ends where the value/,
    },
    {
      name: 'a missing operator',
      filter: 'metric.type "x"',
      code: 'INVALID_ARGUMENT',
      message: /expected "=" or "!="/,
    },
    {
      name: 'a dangling AND',
      filter: `${M} AND`,
      code: 'INVALID_ARGUMENT',
      message: /ends where a term was expected/,
    },
    {
      name: 'an unclosed parenthesis',
      filter: `(${M}`,
      code: 'INVALID_ARGUMENT',
      message: /missing "\)"/,
    },
    {
      name: 'a stray closing parenthesis',
      filter: `${M})`,
      code: 'INVALID_ARGUMENT',
      message: /unexpected "\)"/,
    },
    {
      name: 'an unknown selector',
      filter: `${M} AND foo.bar = "x"`,
      code: 'INVALID_ARGUMENT',
      message: /"foo.bar" is not a time series selector/,
    },
    {
      name: 'lower-case and',
      filter: `${M} and resource.type = "x"`,
      code: 'INVALID_ARGUMENT',
      message: /"and" is not a time series selector/,
    },
    {
      name: 'an unknown function',
      filter: `${M} AND resource.labels.x = matches("a")`,
      code: 'INVALID_ARGUMENT',
      message: /expected a quoted string or a function/,
    },
    {
      name: 'one_of without values',
      filter: `${M} AND resource.labels.x = one_of()`,
      code: 'INVALID_ARGUMENT',
      message: /one_of needs at least one value/,
    },
    {
      name: 'starts_with with two strings',
      filter: `${M} AND resource.labels.x = starts_with("a", "b")`,
      code: 'INVALID_ARGUMENT',
      message: /takes exactly one string/,
    },
    {
      name: 'a function of a number',
      filter: `${M} AND resource.labels.x = one_of(1)`,
      code: 'INVALID_ARGUMENT',
      message: /unexpected character "1"/,
    },
    {
      name: 'a control character',
      filter: `${M} AND \u0000`,
      code: 'INVALID_ARGUMENT',
      message: /unexpected character/,
    },
    {
      name: 'oversized',
      filter: `${M} AND resource.labels.x = "${'a'.repeat(MAX_FILTER_LENGTH)}"`,
      code: 'INVALID_ARGUMENT',
      message: /longer than 16384 characters/,
    },
    {
      name: 'nested too deep',
      filter: `${'('.repeat(200)}${M}${')'.repeat(200)}`,
      code: 'INVALID_ARGUMENT',
      message: /nests deeper than/,
    },
    {
      name: 'NOT NOT NOT … too deep',
      filter: `${M} AND ${'NOT '.repeat(1000)}resource.type = "x"`,
      code: 'INVALID_ARGUMENT',
      message: /nests deeper than/,
    },
    {
      name: 'a regular expression (valid, not evaluated here)',
      filter: `${M} AND resource.labels.x = monitoring.regex.full_match("(a+)+$")`,
      code: 'UNIMPLEMENTED',
      message: /does not evaluate regular expressions/,
    },
    {
      name: 'a numeric comparison (valid, not evaluated here)',
      filter: `${M} AND resource.labels.x > "3"`,
      code: 'UNIMPLEMENTED',
      message: /operator > is not evaluated/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(
        () => parseFilter(c.filter),
        (err: unknown) => {
          assert.ok(err instanceof RunwayError);
          assert.equal(err.code, c.code);
          assert.match(err.message, c.message);
          if (c.code === 'INVALID_ARGUMENT')
            assert.match(err.message, /^Field filter had an invalid value of "/);
          assert.ok(err.message.length < 600, 'the message does not echo a huge filter');
          return true;
        },
      );
    });
  }
});
