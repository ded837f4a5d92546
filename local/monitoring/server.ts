// A local Cloud Monitoring with the metrics runway's canaries read: Cloud Run's
// `run.googleapis.com/request_count` (DELTA, INT64) and `run.googleapis.com/request_latencies`
// (DELTA, DISTRIBUTION, in ms), recorded by the local Cloud Run's router. It answers
// `GET /v3/projects/P/timeSeries` (projects.timeSeries.list) in Google's JSON, with Monitoring's
// filter language, interval, aligners and reducers (aggregation.ts); other metrics have no data.
// Each series' `resource.labels.location` is the region of the service that served its requests,
// as on Google: one project's Monitoring holds every region's revisions, and a revision of the same
// name in two regions is two series.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, notFound } from '../../services/shared/errors.ts';
import { closeServer, serveApi } from '../api-server.ts';
import { type Gate, openGate } from '../iam/caller.ts';
import type { RequestMetrics } from '../run/metrics.ts';
import {
  type Aggregation,
  align,
  checkAggregation,
  groupLabels,
  invalidField,
  parseAggregation,
  reduce,
  type Value,
} from './aggregation.ts';
import { distributionJson } from './distribution.ts';
import { type Labels, parseFilter } from './filter.ts';

export { parseAggregation } from './aggregation.ts';
export { parseFilter } from './filter.ts';

export const REQUEST_COUNT = 'run.googleapis.com/request_count';
export const REQUEST_LATENCIES = 'run.googleapis.com/request_latencies';
const RESOURCE_TYPE = 'cloud_run_revision';

export interface LocalMonitoring {
  url: string;
  host: string;
  close(): Promise<void>;
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

type Series = { metric: Labels; resource: Labels; values: (Value | undefined)[] };

export interface ListOptions {
  /** The clock the requests were stamped with (a time-scaled stack's engine clock). */
  now?: () => number;
  /** How long a data point takes to become visible, as Cloud Run's metrics do (up to 180 s). */
  visibilityDelayMs?: number;
}

/** The raw series of one window: each revision and code class with requests in it. */
function rawSeries(
  metrics: RequestMetrics,
  metricType: string,
  from: number,
  to: number,
): {
  labels: { location: string; service: string; revision: string; codeClass: string };
  value: Value;
}[] {
  if (metricType === REQUEST_COUNT) {
    return metrics
      .counts(from, to)
      .map((c) => ({ labels: c, value: { type: 'INT64' as const, n: c.count } }));
  }
  return metrics
    .latencies(from, to)
    .map((c) => ({ labels: c, value: { type: 'DISTRIBUTION' as const, h: c.latencies } }));
}

/** Aligns each series' window values, then reduces each window across the series of a group. */
function aggregate(series: Series[], agg: Aggregation, windows: number): Series[] {
  if (agg.aligner === undefined) return series;
  const alignedSeries = series.map((s) => ({
    ...s,
    values: s.values.map((v) => (v ? align(agg.aligner!, v, agg.periodMs!) : undefined)),
  }));
  if (agg.reducer === undefined) return alignedSeries;
  const groups = new Map<string, { labels: Omit<Series, 'values'>; members: Series[] }>();
  for (const s of alignedSeries) {
    const labels = groupLabels(s, agg.groupBy);
    const key = JSON.stringify(labels);
    const group = groups.get(key) ?? { labels, members: [] };
    group.members.push(s);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ labels, members }) => ({
    ...labels,
    values: Array.from({ length: windows }, (_, i) => {
      const present = members.flatMap((m) => (m.values[i] ? [m.values[i]!] : []));
      return present.length ? reduce(agg.reducer!, present) : undefined;
    }),
  }));
}

function valueJson(v: Value) {
  if (v.type === 'DISTRIBUTION') return { distributionValue: distributionJson(v.h) };
  if (v.type === 'INT64') return { int64Value: String(Math.round(v.n)) };
  return { doubleValue: v.n };
}

/**
 * projects.timeSeries.list over the router's records. Without an aligner, one point per series
 * over the interval. With an aligner, Monitoring's alignment: points every alignment period,
 * ending at the interval's end, each over the period before it (newest first), periods without
 * data left out; then the reducer across the series of each group-by group. Data younger than the
 * visibility delay is not there yet.
 */
export function listTimeSeries(
  metrics: RequestMetrics,
  project: string,
  query: URLSearchParams,
  options: ListOptions = {},
) {
  const filter = parseFilter(query.get('filter') ?? '');
  const { start, end } = parseInterval(query);
  const agg = parseAggregation(query);
  const input = { [REQUEST_COUNT]: 'INT64', [REQUEST_LATENCIES]: 'DISTRIBUTION' } as const;
  const valueType = input[filter.metricType as keyof typeof input];
  if (valueType === undefined) return { timeSeries: [] };
  const out = checkAggregation(agg, valueType);
  const visible = (options.now ?? Date.now)() - (options.visibilityDelayMs ?? 0);
  const windows =
    agg.periodMs === undefined
      ? [{ from: start, to: end }]
      : periodsEnding(end, start, agg.periodMs);
  const byLabels = new Map<string, Series>();
  windows.forEach((w, i) => {
    for (const { labels: l, value } of rawSeries(
      metrics,
      filter.metricType,
      w.from,
      Math.min(w.to, visible),
    )) {
      const metric: Labels = { response_code_class: l.codeClass };
      const resource: Labels = {
        project_id: project,
        location: l.location,
        service_name: l.service,
        configuration_name: l.service,
        revision_name: l.revision,
      };
      const subject = {
        project,
        metricType: filter.metricType,
        resourceType: RESOURCE_TYPE,
        metric,
        resource,
      };
      if (!filter.matches(subject)) continue;
      const key = JSON.stringify([metric, resource]);
      const series = byLabels.get(key) ?? {
        metric,
        resource,
        values: windows.map(() => undefined),
      };
      series.values[i] = value;
      byLabels.set(key, series);
    }
  });
  const iso = (ms: number) => new Date(ms).toISOString();
  const timeSeries = aggregate([...byLabels.values()], agg, windows.length).flatMap((s) => {
    const points = windows.flatMap((w, i) => {
      const v = s.values[i];
      if (!v) return [];
      const from = out.kind === 'GAUGE' ? w.to : w.from;
      return [{ interval: { startTime: iso(from), endTime: iso(w.to) }, value: valueJson(v) }];
    });
    if (points.length === 0) return [];
    return [
      {
        metric: { type: filter.metricType, labels: s.metric },
        resource: { type: RESOURCE_TYPE, labels: s.resource },
        metricKind: out.kind,
        valueType: out.type,
        points,
      },
    ];
  });
  return { timeSeries };
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
    port?: number;
    /** Each request's IAM check (local/iam/caller.ts); absent: none. */
    gate?: Gate;
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
    (options.gate ?? openGate).authorize(
      req,
      'monitoring.googleapis.com',
      'google.monitoring.v3.MetricService.ListTimeSeries',
      { resource: `projects/${m[1]}` },
    );
    if (m[1] !== options.project)
      throw notFound(`Project ${m[1]} is not served here (${options.project} is).`);
    const text = JSON.stringify(
      listTimeSeries(options.metrics, options.project, url.searchParams, options),
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
