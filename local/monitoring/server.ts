// A local Cloud Monitoring with the one metric runway's canaries read: Cloud Run's
// `run.googleapis.com/request_count`, counted by the local Cloud Run's router. It answers
// `GET /v3/projects/P/timeSeries` (projects.timeSeries.list) in Google's JSON, with the filter
// terms, interval and the sum aggregation runway uses; other metrics have no data.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, notFound } from '../../services/shared/errors.ts';
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

export function listTimeSeries(
  metrics: RequestMetrics,
  project: string,
  location: string,
  query: URLSearchParams,
) {
  const filter = parseFilter(query.get('filter') ?? '');
  const startText = query.get('interval.startTime');
  const endText = query.get('interval.endTime');
  const end = endText ? Date.parse(endText) : Number.NaN;
  const start = startText ? Date.parse(startText) : end;
  if (Number.isNaN(end) || Number.isNaN(start) || start > end) {
    throw invalidArgument(
      'interval.endTime is required and interval.startTime, when given, must not be after it (RFC 3339 times)',
      [{ field: 'interval', description: 'invalid interval' }],
    );
  }
  if (filter.get('metric.type') !== REQUEST_COUNT) return { timeSeries: [] };
  const rtype = filter.get('resource.type');
  if (rtype !== undefined && rtype !== 'cloud_run_revision') return { timeSeries: [] };

  const matches = (labels: { metric: Labels; resource: Labels }) =>
    [...filter].every(([field, value]) => {
      if (field === 'metric.type' || field === 'resource.type') return true;
      const m = /^(metric|resource)\.labels?\.([a-z_]+)$/.exec(field);
      if (!m) throw invalidArgument(`filter field ${field} is not supported`);
      return labels[m[1] as 'metric' | 'resource'][m[2]!] === value;
    });
  let series = metrics
    .counts(start, end)
    .map((c) => ({ ...labelsOf(c, project, location), count: c.count }))
    .filter(matches);

  // REDUCE_SUM across series, grouped by the named label fields: runway asks for one series per
  // response code class over the whole interval.
  // Google's Node client sends enums as numbers: REDUCE_NONE is 0, REDUCE_SUM 4.
  const raw = query.get('aggregation.crossSeriesReducer');
  const reducer = raw === '0' ? 'REDUCE_NONE' : raw === '4' ? 'REDUCE_SUM' : raw;
  if (reducer && reducer !== 'REDUCE_NONE') {
    if (reducer !== 'REDUCE_SUM') {
      throw invalidArgument(
        `aggregation.crossSeriesReducer ${reducer} is not supported locally (REDUCE_SUM is)`,
      );
    }
    const fields = query.getAll('aggregation.groupByFields');
    const groups = new Map<string, (typeof series)[number]>();
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
    series = [...groups.values()];
  }
  const interval = {
    startTime: new Date(start).toISOString(),
    endTime: new Date(end).toISOString(),
  };
  return {
    timeSeries: series.map((s) => ({
      metric: { type: REQUEST_COUNT, labels: s.metric },
      resource: { type: 'cloud_run_revision', labels: s.resource },
      metricKind: 'DELTA',
      valueType: 'INT64',
      points: [{ interval, value: { int64Value: String(s.count) } }],
    })),
  };
}

export async function startLocalMonitoring(options: {
  metrics: RequestMetrics;
  project: string;
  location: string;
  port?: number;
}): Promise<LocalMonitoring> {
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
      listTimeSeries(options.metrics, options.project, options.location, url.searchParams),
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
