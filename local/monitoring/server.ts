// A local Cloud Monitoring with the one metric runway's canaries read: Cloud Run's
// `run.googleapis.com/request_count`, counted by the local Cloud Run's router. It answers
// `GET /v3/projects/P/timeSeries` (projects.timeSeries.list) in Google's JSON, with the filter
// terms, interval and the sum aggregation runway uses; other metrics have no data.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, notFound, RunwayError } from '../../services/shared/errors.ts';
import { closeServer, serveApi } from '../api-server.ts';
import type { RequestCount, RequestMetrics } from '../run/metrics.ts';

export const REQUEST_COUNT = 'run.googleapis.com/request_count';

export interface LocalMonitoring {
  url: string;
  host: string;
  close(): Promise<void>;
}

type Labels = Record<string, string>;

/** `a = "x" AND b = "y"`: the equality terms of Monitoring's filter language runway needs. */
export function parseFilter(filter: string): Map<string, string> {
  const terms = new Map<string, string>();
  for (const term of filter.split(/\s+AND\s+/)) {
    const m = /^\s*([a-z_.]+)\s*=\s*"([^"]*)"\s*$/.exec(term);
    if (!m) {
      throw invalidArgument(
        `filter term ${JSON.stringify(term.trim().slice(0, 100))} is not supported by the local Cloud Monitoring: use field = "value" terms joined by AND`,
        [{ field: 'filter', description: 'unsupported filter' }],
      );
    }
    terms.set(m[1]!, m[2]!);
  }
  if (!terms.has('metric.type')) {
    throw invalidArgument('filter must name a metric.type', [
      { field: 'filter', description: 'metric.type is required' },
    ]);
  }
  return terms;
}

function labelsOf(c: RequestCount, project: string, location: string) {
  return {
    metric: { response_code_class: c.codeClass } as Labels,
    resource: {
      project_id: project,
      location,
      service_name: c.service,
      configuration_name: c.service,
      revision_name: c.revision,
    } as Labels,
  };
}

// Aggregation's enums, names and numbers (google/monitoring/v3/common.proto): Google's REST
// gateway takes either, and its Node client sends numbers.
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
// What request_count (DELTA, INT64) can be aligned with, as Monitoring's aligner table says; the
// boolean and distribution aligners are refused for it.
const INT64_DELTA_ALIGNERS = new Set([
  'ALIGN_NONE',
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
]);

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
function invalidField(field: string, value: string, why: string) {
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

interface Aggregation {
  /** Alignment period in ms, when an aligner other than ALIGN_NONE is in use. */
  periodMs?: number;
  reducer?: string;
  groupBy: string[];
}

/**
 * The aggregation of a request, refused where Cloud Monitoring refuses it: an alignment period
 * under 60 s ("The alignment period must be greater than or equal to 1 minute."), an aligner
 * without a period, a reducer without an aligner, unknown enum values, and aligners that do not
 * apply to an INT64 DELTA metric. Valid aggregations the local cloud cannot compute are 501.
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
  if (aligning && !INT64_DELTA_ALIGNERS.has(aligner)) {
    throw invalidField(
      'aggregation.perSeriesAligner',
      aligner,
      'The aligner cannot be applied to metrics with kind DELTA and value type INT64.',
    );
  }
  if (aligning && aligner !== 'ALIGN_SUM') {
    throw new RunwayError(
      'UNIMPLEMENTED',
      `aggregation.perSeriesAligner ${aligner} is valid, but the local Cloud Monitoring computes ALIGN_SUM only`,
    );
  }
  if (reducer !== undefined && reducer !== 'REDUCE_NONE' && reducer !== 'REDUCE_SUM') {
    throw new RunwayError(
      'UNIMPLEMENTED',
      `aggregation.crossSeriesReducer ${reducer} is valid, but the local Cloud Monitoring computes REDUCE_SUM only`,
    );
  }
  return {
    ...(aligning ? { periodMs } : {}),
    ...(reducer && reducer !== 'REDUCE_NONE' ? { reducer } : {}),
    groupBy,
  };
}

/** interval.endTime is required; startTime defaults to it and must not be after it. */
function parseInterval(query: URLSearchParams): { start: number; end: number } {
  const endText = query.get('interval.endTime') ?? query.get('interval.end_time') ?? '';
  const startText = query.get('interval.startTime') ?? query.get('interval.start_time') ?? '';
  const instant = (field: string, text: string) => {
    const ms = parseRfc3339(text);
    if (ms === undefined) {
      const message = `Invalid value at '${field}' (type.googleapis.com/google.protobuf.Timestamp), ${JSON.stringify(text)}`;
      throw invalidArgument(message, [{ field, description: message }]);
    }
    return ms;
  };
  if (endText === '') {
    throw invalidField('interval.endTime', '', 'The end time of the interval must be specified.');
  }
  const end = instant('interval.end_time', endText);
  const start = startText === '' ? end : instant('interval.start_time', startText);
  if (start > end) {
    throw invalidField(
      'interval.startTime',
      startText,
      'The start time must be before or equal to the end time.',
    );
  }
  return { start, end };
}

/** An RFC 3339 timestamp in ms, or undefined; Date.parse alone accepts much more than RFC 3339. */
function parseRfc3339(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/.test(text)) {
    return undefined;
  }
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? undefined : ms;
}

type Series = { metric: Labels; resource: Labels; count: number };

function matcher(filter: Map<string, string>) {
  return (labels: { metric: Labels; resource: Labels }) =>
    [...filter].every(([field, value]) => {
      if (field === 'metric.type' || field === 'resource.type') return true;
      const m = /^(metric|resource)\.labels?\.([a-z_]+)$/.exec(field);
      if (!m) throw invalidArgument(`filter field ${field} is not supported`);
      return labels[m[1] as 'metric' | 'resource'][m[2]!] === value;
    });
}

/** REDUCE_SUM across series, grouped by the named label fields. */
function reduceSum(series: Series[], fields: string[]): Series[] {
  const groups = new Map<string, Series>();
  for (const s of series) {
    const kept = { metric: {} as Labels, resource: {} as Labels };
    for (const f of fields) {
      const m = /^(metric|resource)\.labels?\.([a-z_]+)$/.exec(f);
      if (!m) throw invalidArgument(`aggregation.groupByFields ${f} is not supported`);
      const kind = m[1] as 'metric' | 'resource';
      const value = s[kind][m[2]!];
      if (value !== undefined) kept[kind][m[2]!] = value;
    }
    const key = JSON.stringify(kept);
    const group = groups.get(key);
    if (group) group.count += s.count;
    else groups.set(key, { ...kept, count: s.count });
  }
  return [...groups.values()];
}

export interface ListOptions {
  /** The clock the counts were stamped with (a time-scaled stack's engine clock). */
  now?: () => number;
  /** How long a count takes to become visible, as Cloud Run's metrics do (up to 180 s). */
  visibilityDelayMs?: number;
}

/**
 * projects.timeSeries.list over the router's counts. Without an aligner, one point per series
 * over the interval. With ALIGN_SUM, Monitoring's alignment: points every alignment period,
 * ending at the interval's end, each summing the period before it (newest first). Counts
 * younger than the visibility delay are not there yet.
 */
export function listTimeSeries(
  metrics: RequestMetrics,
  project: string,
  location: string,
  query: URLSearchParams,
  options: ListOptions = {},
) {
  const filter = parseFilter(query.get('filter') ?? '');
  const { start, end } = parseInterval(query);
  const aggregation = parseAggregation(query);
  if (filter.get('metric.type') !== REQUEST_COUNT) return { timeSeries: [] };
  const rtype = filter.get('resource.type');
  if (rtype !== undefined && rtype !== 'cloud_run_revision') return { timeSeries: [] };
  const visible = (options.now ?? Date.now)() - (options.visibilityDelayMs ?? 0);
  const matches = matcher(filter);
  const windows =
    aggregation.periodMs === undefined
      ? [{ from: start, to: end }]
      : periodsEnding(end, start, aggregation.periodMs);
  const points = new Map<string, { series: Series; counts: number[] }>();
  windows.forEach((w, i) => {
    let series = metrics
      .counts(w.from, Math.min(w.to, visible))
      .map((c) => ({ ...labelsOf(c, project, location), count: c.count }))
      .filter(matches);
    if (aggregation.reducer === 'REDUCE_SUM') series = reduceSum(series, aggregation.groupBy);
    for (const s of series) {
      const key = JSON.stringify([s.metric, s.resource]);
      const entry = points.get(key) ?? { series: s, counts: windows.map(() => 0) };
      entry.counts[i] = s.count;
      points.set(key, entry);
    }
  });
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    timeSeries: [...points.values()].map(({ series, counts }) => ({
      metric: { type: REQUEST_COUNT, labels: series.metric },
      resource: { type: 'cloud_run_revision', labels: series.resource },
      metricKind: 'DELTA',
      valueType: 'INT64',
      points: windows
        .map((w, i) => ({
          interval: { startTime: iso(w.from), endTime: iso(w.to) },
          value: { int64Value: String(counts[i]) },
        }))
        .filter((_, i) => aggregation.periodMs === undefined || counts[i]! > 0),
    })),
  };
}

/** Alignment periods ending at `end`, newest first, while they end after `start`. */
function periodsEnding(end: number, start: number, periodMs: number) {
  const out: { from: number; to: number }[] = [];
  for (let to = end; to > start || out.length === 0; to -= periodMs) {
    out.push({ from: to - periodMs, to });
    if (out.length >= 10_000) break;
  }
  return out;
}

export async function startLocalMonitoring(
  options: {
    metrics: RequestMetrics;
    project: string;
    location: string;
    port?: number;
  } & ListOptions,
): Promise<LocalMonitoring> {
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/v3\/projects\/([^/]+)\/timeSeries$/.exec(url.pathname);
    if (!m || req.method !== 'GET') {
      throw notFound(
        `The requested URL ${url.pathname} was not found on this server (the local Cloud Monitoring serves GET /v3/projects/P/timeSeries).`,
      );
    }
    if (m[1] !== options.project)
      throw notFound(`Project ${m[1]} is not served here (${options.project} is).`);
    const text = JSON.stringify(
      listTimeSeries(options.metrics, options.project, options.location, url.searchParams, options),
    );
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const { server, host, url } = await serveApi(
    handler,
    options.port === undefined ? {} : { port: options.port },
  );
  return { url, host, close: () => closeServer(server) };
}
