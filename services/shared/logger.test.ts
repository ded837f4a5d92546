import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, parseTraceHeaders, traceFields } from './logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (l: string) => lines.push(JSON.parse(l)) } };
}

test('writes one JSON line with severity, message and bound fields', () => {
  const out = capture();
  const log = createLogger({ stream: out.stream })
    .child({ pipeline: 'web' })
    .child({ digest: 'abc' });
  log.info('started', { execution: 'e1' });
  assert.deepEqual(out.lines, [
    { severity: 'INFO', message: 'started', pipeline: 'web', digest: 'abc', execution: 'e1' },
  ]);
});

test('drops entries below the level and never throws on odd fields', () => {
  const out = capture();
  const log = createLogger({ stream: out.stream, level: 'WARNING' });
  log.info('hidden');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  log.error('odd', { big: 10n, cyclic, err: Object.assign(new Error('boom'), { code: 'E1' }) });
  assert.equal(out.lines.length, 1);
  assert.deepEqual(out.lines[0], {
    severity: 'ERROR',
    message: 'odd',
    big: '10',
    cyclic: { self: '[circular]' },
    err: { name: 'Error', message: 'boom', code: 'E1' },
  });
});

describe('trace headers', () => {
  const T = '105445aa7843bc8bf206b12000100000';
  const cases = [
    {
      name: 'cloud trace with span and sampling',
      headers: { 'x-cloud-trace-context': `${T}/1;o=1` },
      want: { traceId: T, spanId: '1', sampled: true },
    },
    { name: 'cloud trace id only', headers: { 'x-cloud-trace-context': T }, want: { traceId: T } },
    {
      name: 'w3c traceparent',
      headers: { traceparent: `00-${T}-00f067aa0ba902b7-01` },
      want: { traceId: T, spanId: '00f067aa0ba902b7', sampled: true },
    },
    {
      name: 'cloud trace wins over traceparent',
      headers: {
        'x-cloud-trace-context': T,
        traceparent: `00-${'1'.repeat(32)}-00f067aa0ba902b7-00`,
      },
      want: { traceId: T },
    },
    { name: 'garbage', headers: { 'x-cloud-trace-context': 'not-a-trace' }, want: undefined },
    {
      name: 'all-zero traceparent',
      headers: { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
      want: undefined,
    },
    {
      name: 'injection attempt',
      headers: { 'x-cloud-trace-context': `${T}/1;o=1\n{"severity":"CRITICAL"}` },
      want: undefined,
    },
    { name: 'none', headers: {}, want: undefined },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseTraceHeaders(c.headers), c.want));

  test('trace fields name the project', () => {
    assert.deepEqual(traceFields({ traceId: T, spanId: '1', sampled: true }, 'my-project'), {
      'logging.googleapis.com/trace': `projects/my-project/traces/${T}`,
      'logging.googleapis.com/spanId': '1',
      'logging.googleapis.com/trace_sampled': true,
    });
    assert.deepEqual(traceFields(undefined, 'p'), {});
  });
});
