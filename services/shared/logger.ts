// Structured logs for Cloud Logging: one JSON line per entry on a stream, `severity` and
// `message` first, the trace when a request carried one, and fields bound by child loggers.

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

const rank: Record<Severity, number> = {
  DEBUG: 0,
  INFO: 1,
  NOTICE: 2,
  WARNING: 3,
  ERROR: 4,
  CRITICAL: 5,
};

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  notice(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** A logger that adds `fields` to every entry. */
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  stream?: { write(line: string): unknown };
  level?: Severity;
  fields?: Fields;
  /** Injected for tests; ISO timestamps are added when given. */
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const min = rank[options.level ?? 'INFO'];
  const now = options.now;
  const make = (bound: Fields): Logger => {
    const write = (severity: Severity, message: string, fields?: Fields) => {
      if (rank[severity] < min) return;
      const entry: Fields = { severity, message, ...bound, ...fields };
      if (now) entry.time = now().toISOString();
      stream.write(`${safeStringify(entry)}\n`);
    };
    return {
      debug: (m, f) => write('DEBUG', m, f),
      info: (m, f) => write('INFO', m, f),
      notice: (m, f) => write('NOTICE', m, f),
      warn: (m, f) => write('WARNING', m, f),
      error: (m, f) => write('ERROR', m, f),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make(options.fields ?? {});
}

/** A logger that drops everything, for tests and benchmarks that do not read logs. */
export const silentLogger: Logger = createLogger({
  stream: { write: () => true },
  level: 'CRITICAL',
});

/** Errors become `{name, message, code}`; bigints and cycles do not throw. */
function safeStringify(entry: Fields): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(entry, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
    }
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  });
}

export interface TraceContext {
  traceId: string;
  spanId?: string;
  sampled?: boolean;
}

type HeaderValue = string | string[] | undefined;

/** Reads `X-Cloud-Trace-Context: TRACE/SPAN;o=1` or W3C `traceparent: 00-TRACE-SPAN-FLAGS`. */
export function parseTraceHeaders(headers: Record<string, HeaderValue>): TraceContext | undefined {
  const first = (v: HeaderValue) => (Array.isArray(v) ? v[0] : v);
  const cloud = first(headers['x-cloud-trace-context']);
  if (cloud) {
    const m = /^([0-9a-f]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/i.exec(cloud.trim());
    if (m?.[1]) {
      return {
        traceId: m[1].toLowerCase(),
        ...(m[2] ? { spanId: m[2] } : {}),
        ...(m[3] ? { sampled: m[3] === '1' } : {}),
      };
    }
  }
  const parent = first(headers.traceparent);
  if (parent) {
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(parent.trim());
    if (m?.[1] && m[2] && m[3] && !/^0+$/.test(m[1])) {
      return { traceId: m[1], spanId: m[2], sampled: (Number.parseInt(m[3], 16) & 1) === 1 };
    }
  }
  return undefined;
}

/** The fields Cloud Logging reads to join a log entry to its trace. */
export function traceFields(trace: TraceContext | undefined, projectId: string): Fields {
  if (!trace) return {};
  return {
    'logging.googleapis.com/trace': `projects/${projectId}/traces/${trace.traceId}`,
    ...(trace.spanId ? { 'logging.googleapis.com/spanId': trace.spanId } : {}),
    ...(trace.sampled === undefined
      ? {}
      : { 'logging.googleapis.com/trace_sampled': trace.sampled }),
  };
}
