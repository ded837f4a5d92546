// Monitoring's Aggregation (google/monitoring/v3/common.proto): the request's aligner, reducer,
// period and group-by fields, refused where Cloud Monitoring refuses them, and the alignment and
// reduction themselves over the values of one alignment period.
import { invalidArgument, RunwayError } from '../../services/shared/errors.ts';
import { emptyHistogram, type Histogram, merge, mean, percentile, stddev } from './distribution.ts';
import type { Labels } from './filter.ts';

// Aggregation's enums, names and numbers: Google's REST gateway takes either, and its Node client
// sends numbers.
const ALIGNERS: Record<string, number> = {
  ALIGN_NONE: 0,
  ALIGN_DELTA: 1,
  ALIGN_RATE: 2,
  ALIGN_INTERPOLATE: 3,
  ALIGN_NEXT_OLDER: 4,
  ALIGN_MIN: 10,
  ALIGN_MAX: 11,
  ALIGN_MEAN: 12,
  ALIGN_COUNT: 13,
  ALIGN_SUM: 14,
  ALIGN_STDDEV: 15,
  ALIGN_COUNT_TRUE: 16,
  ALIGN_COUNT_FALSE: 24,
  ALIGN_FRACTION_TRUE: 17,
  ALIGN_PERCENTILE_99: 18,
  ALIGN_PERCENTILE_95: 19,
  ALIGN_PERCENTILE_50: 20,
  ALIGN_PERCENTILE_05: 21,
  ALIGN_PERCENT_CHANGE: 23,
};
const REDUCERS: Record<string, number> = {
  REDUCE_NONE: 0,
  REDUCE_MEAN: 1,
  REDUCE_MIN: 2,
  REDUCE_MAX: 3,
  REDUCE_SUM: 4,
  REDUCE_STDDEV: 5,
  REDUCE_COUNT: 6,
  REDUCE_COUNT_TRUE: 7,
  REDUCE_COUNT_FALSE: 15,
  REDUCE_FRACTION_TRUE: 8,
  REDUCE_PERCENTILE_99: 9,
  REDUCE_PERCENTILE_95: 10,
  REDUCE_PERCENTILE_50: 11,
  REDUCE_PERCENTILE_05: 12,
};

export type MetricKind = 'DELTA' | 'GAUGE';
export type ValueType = 'INT64' | 'DOUBLE' | 'DISTRIBUTION';

/**
 * The aligners common.proto declares valid for a DELTA metric of each value type. Numeric ones:
 * everything but the Boolean aligners and ALIGN_INTERPOLATE (GAUGE only); distributions:
 * ALIGN_DELTA, ALIGN_SUM ("numeric and distribution values") and the percentiles; ALIGN_MEAN,
 * ALIGN_COUNT and ALIGN_RATE are for numeric values only.
 */
const VALID_ALIGNERS: Record<'INT64' | 'DISTRIBUTION', Set<string>> = {
  INT64: new Set([
    'ALIGN_DELTA',
    'ALIGN_RATE',
    'ALIGN_NEXT_OLDER',
    'ALIGN_MIN',
    'ALIGN_MAX',
    'ALIGN_MEAN',
    'ALIGN_COUNT',
    'ALIGN_SUM',
    'ALIGN_STDDEV',
    'ALIGN_PERCENT_CHANGE',
  ]),
  DISTRIBUTION: new Set([
    'ALIGN_DELTA',
    'ALIGN_SUM',
    'ALIGN_PERCENTILE_99',
    'ALIGN_PERCENTILE_95',
    'ALIGN_PERCENTILE_50',
    'ALIGN_PERCENTILE_05',
  ]),
};
/** Valid aligners the local cloud does not compute (they need Cloud Run's raw sample points). */
const COMPUTED_ALIGNERS = new Set([
  'ALIGN_DELTA',
  'ALIGN_SUM',
  'ALIGN_RATE',
  'ALIGN_PERCENTILE_99',
  'ALIGN_PERCENTILE_95',
  'ALIGN_PERCENTILE_50',
  'ALIGN_PERCENTILE_05',
]);

/** Reducers per input value type, as common.proto declares them (Boolean ones never apply here). */
const NUMERIC_REDUCERS = [
  'REDUCE_MEAN',
  'REDUCE_MIN',
  'REDUCE_MAX',
  'REDUCE_SUM',
  'REDUCE_STDDEV',
  'REDUCE_COUNT',
  'REDUCE_PERCENTILE_99',
  'REDUCE_PERCENTILE_95',
  'REDUCE_PERCENTILE_50',
  'REDUCE_PERCENTILE_05',
];
const VALID_REDUCERS: Record<ValueType, Set<string>> = {
  INT64: new Set(NUMERIC_REDUCERS),
  DOUBLE: new Set(NUMERIC_REDUCERS),
  DISTRIBUTION: new Set(NUMERIC_REDUCERS.filter((r) => r !== 'REDUCE_MIN' && r !== 'REDUCE_MAX')),
};

export interface Aggregation {
  aligner?: string;
  /** Alignment period in ms, when an aligner other than ALIGN_NONE is in use. */
  periodMs?: number;
  reducer?: string;
  groupBy: string[];
}

/** An enum query parameter by name or number; Google's REST gateway wording when it is neither. */
function enumParam(
  query: URLSearchParams,
  field: string,
  proto: string,
  type: string,
  values: Record<string, number>,
): string | undefined {
  const raw = query.get(`aggregation.${field}`) ?? query.get(`aggregation.${proto}`);
  if (raw === null || raw === '') return undefined;
  const byNumber = Object.entries(values).find(([, n]) => String(n) === raw)?.[0];
  const name = raw in values ? raw : byNumber;
  if (!name) {
    const message = `Invalid value at 'aggregation.${proto}' (type.googleapis.com/google.monitoring.v3.Aggregation.${type}), ${JSON.stringify(raw)}`;
    throw invalidArgument(message, [{ field: `aggregation.${proto}`, description: message }]);
  }
  return name;
}

/** Monitoring's own refusal: `Field F had an invalid value of "V": why.` */
export function invalidField(field: string, value: string, why: string) {
  return invalidArgument(
    `Field ${field} had an invalid value of ${JSON.stringify(value)}: ${why}`,
    [{ field, description: why }],
  );
}

/** A google.protobuf.Duration in JSON (`"90s"`, `"1.5s"`), in seconds; NaN when malformed. */
function durationSeconds(text: string): number {
  const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  return m ? Number(`${m[1]}.${m[2] ?? '0'}`) : Number.NaN;
}

const GROUP_BY = /^(metric|resource)\.labels?\.[A-Za-z0-9_]+$/;

/**
 * The aggregation of a request, refused where Cloud Monitoring refuses it whatever the metric: an
 * alignment period under 60 s ("The alignment period must be greater than or equal to 1
 * minute."), an aligner without a period, a reducer without an aligner, unknown enum values, and
 * group-by fields that name no label.
 */
export function parseAggregation(query: URLSearchParams): Aggregation {
  const aligner = enumParam(query, 'perSeriesAligner', 'per_series_aligner', 'Aligner', ALIGNERS);
  const reducer = enumParam(
    query,
    'crossSeriesReducer',
    'cross_series_reducer',
    'Reducer',
    REDUCERS,
  );
  const periodText =
    query.get('aggregation.alignmentPeriod') ?? query.get('aggregation.alignment_period') ?? '';
  const groupBy = [
    ...query.getAll('aggregation.groupByFields'),
    ...query.getAll('aggregation.group_by_fields'),
  ];
  for (const field of groupBy) {
    if (!GROUP_BY.test(field)) {
      throw invalidField(
        'aggregation.groupByFields',
        field,
        'A group-by field must name a metric or resource label, as metric.labels.KEY or resource.labels.KEY.',
      );
    }
  }
  let periodMs: number | undefined;
  if (periodText !== '') {
    const seconds = durationSeconds(periodText);
    if (Number.isNaN(seconds)) {
      const message = `Invalid value at 'aggregation.alignment_period' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(periodText)}`;
      throw invalidArgument(message, [
        { field: 'aggregation.alignment_period', description: message },
      ]);
    }
    if (seconds < 60) {
      throw invalidField(
        'aggregation.alignmentPeriod',
        periodText,
        'The alignment period must be greater than or equal to 1 minute.',
      );
    }
    periodMs = seconds * 1000;
  }
  const aligning = aligner !== undefined && aligner !== 'ALIGN_NONE';
  if (aligning && periodMs === undefined) {
    throw invalidField(
      'aggregation.alignmentPeriod',
      periodText,
      'An alignment period must be specified when a per-series aligner other than ALIGN_NONE is used.',
    );
  }
  if (reducer !== undefined && reducer !== 'REDUCE_NONE' && !aligning) {
    throw invalidField(
      'aggregation.perSeriesAligner',
      aligner ?? '',
      'A per-series aligner other than ALIGN_NONE must be specified when a cross-series reducer is used.',
    );
  }
  return {
    ...(aligning ? { aligner, periodMs } : {}),
    ...(reducer && reducer !== 'REDUCE_NONE' ? { reducer } : {}),
    groupBy,
  };
}

/** The kind and value type an aligner turns a DELTA series of `input` into. */
function aligned(aligner: string, input: ValueType): { kind: MetricKind; type: ValueType } {
  if (aligner === 'ALIGN_RATE' || aligner.startsWith('ALIGN_PERCENTILE_')) {
    return { kind: 'GAUGE', type: 'DOUBLE' };
  }
  return { kind: 'DELTA', type: input };
}

function reduced(reducer: string, input: ValueType): ValueType {
  if (reducer === 'REDUCE_COUNT') return 'INT64';
  if (reducer === 'REDUCE_SUM' || reducer === 'REDUCE_MIN' || reducer === 'REDUCE_MAX')
    return input;
  return 'DOUBLE';
}

/**
 * Checks the aggregation against a DELTA metric of value type `input`: the aligner must apply to
 * it, and the reducer to what the aligner makes of it, in Monitoring's wording. Valid
 * aggregations the local cloud does not compute are 501. Returns the answer's kind and type.
 */
export function checkAggregation(
  agg: Aggregation,
  input: 'INT64' | 'DISTRIBUTION',
): { kind: MetricKind; type: ValueType } {
  if (agg.aligner === undefined) return { kind: 'DELTA', type: input };
  if (!VALID_ALIGNERS[input].has(agg.aligner)) {
    throw invalidField(
      'aggregation.perSeriesAligner',
      agg.aligner,
      `The aligner cannot be applied to metrics with kind DELTA and value type ${input}.`,
    );
  }
  const out = aligned(agg.aligner, input);
  if (agg.reducer !== undefined && !VALID_REDUCERS[out.type].has(agg.reducer)) {
    throw invalidField(
      'aggregation.crossSeriesReducer',
      agg.reducer,
      `The reducer cannot be applied to metrics with kind ${out.kind} and value type ${out.type}.`,
    );
  }
  if (!COMPUTED_ALIGNERS.has(agg.aligner)) {
    throw new RunwayError(
      'UNIMPLEMENTED',
      `aggregation.perSeriesAligner ${agg.aligner} is valid, but the local Cloud Monitoring computes ${[...COMPUTED_ALIGNERS].filter((a) => VALID_ALIGNERS[input].has(a)).join(', ')} for this metric`,
    );
  }
  return agg.reducer === undefined ? out : { kind: out.kind, type: reduced(agg.reducer, out.type) };
}

export type Value =
  | { type: 'INT64' | 'DOUBLE'; n: number }
  | { type: 'DISTRIBUTION'; h: Histogram };

const pct = (name: string) => Number(name.slice(-2));

/** One period of one series through the aligner; undefined when the period has no data. */
export function align(aligner: string, raw: Value, periodMs: number): Value | undefined {
  if (raw.type === 'DISTRIBUTION') {
    if (raw.h.count === 0) return undefined;
    if (aligner.startsWith('ALIGN_PERCENTILE_')) {
      return { type: 'DOUBLE', n: percentile(raw.h, pct(aligner)) };
    }
    return raw; // ALIGN_DELTA, ALIGN_SUM: the period's distribution
  }
  if (raw.n === 0) return undefined;
  if (aligner === 'ALIGN_RATE') return { type: 'DOUBLE', n: raw.n / (periodMs / 1000) };
  return raw; // ALIGN_DELTA, ALIGN_SUM: the period's count
}

/** Percentile p of numbers, interpolated linearly between the closest ranks. */
export function numericPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** The values of one period across the series of one group, through the reducer. */
export function reduce(reducer: string, values: Value[]): Value {
  if (reducer === 'REDUCE_COUNT') return { type: 'INT64', n: values.length };
  const first = values[0]!;
  if (first.type === 'DISTRIBUTION') {
    const all = emptyHistogram();
    for (const v of values) if (v.type === 'DISTRIBUTION') merge(all, v.h);
    if (reducer === 'REDUCE_SUM') return { type: 'DISTRIBUTION', h: all };
    if (reducer === 'REDUCE_MEAN') return { type: 'DOUBLE', n: mean(all) };
    if (reducer === 'REDUCE_STDDEV') return { type: 'DOUBLE', n: stddev(all) };
    return { type: 'DOUBLE', n: percentile(all, pct(reducer)) };
  }
  const ns = values.map((v) => (v.type === 'DISTRIBUTION' ? 0 : v.n));
  const sum = ns.reduce((a, b) => a + b, 0);
  switch (reducer) {
    case 'REDUCE_SUM':
      return { type: first.type, n: sum };
    case 'REDUCE_MIN':
      return { type: first.type, n: Math.min(...ns) };
    case 'REDUCE_MAX':
      return { type: first.type, n: Math.max(...ns) };
    case 'REDUCE_MEAN':
      return { type: 'DOUBLE', n: sum / ns.length };
    case 'REDUCE_STDDEV': {
      const m = sum / ns.length;
      return { type: 'DOUBLE', n: Math.sqrt(ns.reduce((a, x) => a + (x - m) ** 2, 0) / ns.length) };
    }
    default:
      return { type: 'DOUBLE', n: numericPercentile(ns, pct(reducer)) };
  }
}

/** The labels a group keeps: those its group-by fields name. */
export function groupLabels(
  labels: { metric: Labels; resource: Labels },
  fields: string[],
): { metric: Labels; resource: Labels } {
  const kept = { metric: {} as Labels, resource: {} as Labels };
  for (const f of fields) {
    const [kind, , key] = f.split('.') as ['metric' | 'resource', string, string];
    const value = labels[kind][key];
    if (value !== undefined) kept[kind][key] = value;
  }
  return kept;
}
