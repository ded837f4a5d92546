// runway's errors: one class with a stable Google canonical code, and the single place that turns
// anything thrown into an HTTP status and a Google-shaped body ({"error": {code, message, status}}).

/** Google's canonical error codes (google.rpc.Code) with their HTTP statuses. */
export const canonicalCodes = {
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
} as const;

export type CanonicalCode = keyof typeof canonicalCodes;

/** google.rpc.Code numbers, as gRPC and the `code` inside operation errors carry them. */
export const rpcCodeNumbers: Record<CanonicalCode, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export interface FieldViolation {
  field: string;
  description: string;
}

export interface RunwayErrorOptions {
  cause?: unknown;
  /** Bad fields, reported as a google.rpc.BadRequest detail. */
  violations?: FieldViolation[];
  /** Overrides the HTTP status the code maps to (413 for an oversized body, say). */
  httpStatus?: number;
  /**
   * Why, for programs: a google.rpc.ErrorInfo detail with runway.dev as its domain (reason
   * FROZEN with the freeze and its end, say), so a client need not read the message. `domain`
   * replaces runway.dev where runway answers as Google would (iam.googleapis.com for an IAM denial).
   */
  info?: { reason: string; metadata: Record<string, string>; domain?: string };
}

export class RunwayError extends Error {
  override name = 'RunwayError';
  readonly code: CanonicalCode;
  readonly violations: FieldViolation[];
  readonly httpStatus: number;
  readonly info: RunwayErrorOptions['info'];

  constructor(code: CanonicalCode, message: string, options: RunwayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.violations = options.violations ?? [];
    this.httpStatus = options.httpStatus ?? canonicalCodes[code];
    this.info = options.info;
  }
}

/** A bad setting found at startup; the message names the key. */
export class ConfigError extends RunwayError {
  override name = 'ConfigError';
  constructor(message: string, options: RunwayErrorOptions = {}) {
    super('INVALID_ARGUMENT', message, options);
  }
}

export const invalidArgument = (message: string, violations?: FieldViolation[]) =>
  new RunwayError('INVALID_ARGUMENT', message, violations ? { violations } : {});
export const notFound = (message: string) => new RunwayError('NOT_FOUND', message);
export const alreadyExists = (message: string) => new RunwayError('ALREADY_EXISTS', message);
export const failedPrecondition = (message: string) =>
  new RunwayError('FAILED_PRECONDITION', message);
export const aborted = (message: string) => new RunwayError('ABORTED', message);
export const unavailable = (message: string, cause?: unknown) =>
  new RunwayError('UNAVAILABLE', message, { cause });

/** Turns anything thrown into a RunwayError; unknown errors become INTERNAL with the original as cause. */
export function toRunwayError(err: unknown): RunwayError {
  if (err instanceof RunwayError) return err;
  if (isBodyParserError(err)) {
    if (err.type === 'entity.too.large') {
      return new RunwayError('INVALID_ARGUMENT', `request body is larger than ${err.limit} bytes`, {
        cause: err,
        httpStatus: 413,
      });
    }
    // 415 stays 415: a charset or content-encoding the parser cannot decode.
    return new RunwayError('INVALID_ARGUMENT', `request body is not valid: ${err.message}`, {
      cause: err,
      ...(err.status === 415 ? { httpStatus: 415 } : {}),
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new RunwayError('INTERNAL', `internal error: ${message}`, { cause: err });
}

interface BodyParserError extends Error {
  type: string;
  status: number;
  limit?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    err instanceof Error &&
    typeof (err as Partial<BodyParserError>).type === 'string' &&
    typeof (err as Partial<BodyParserError>).status === 'number'
  );
}

export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    status: CanonicalCode;
    details: Record<string, unknown>[];
  };
}

/** The body Google's APIs answer errors with. */
export function googleErrorBody(err: unknown): GoogleErrorBody {
  const e = toRunwayError(err);
  const details: Record<string, unknown>[] = [];
  if (e.violations.length > 0) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.BadRequest',
      fieldViolations: e.violations,
    });
  }
  if (e.info) {
    details.push({
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: e.info.reason,
      domain: e.info.domain ?? 'runway.dev',
      metadata: e.info.metadata,
    });
  }
  return { error: { code: e.httpStatus, message: e.message, status: e.code, details } };
}

/** Writes a Google-shaped error to a Node response (Express responses are Node responses). */
export function sendGoogleError(
  res: import('node:http').ServerResponse,
  err: unknown,
): RunwayError {
  const e = toRunwayError(err);
  const body = JSON.stringify(googleErrorBody(e));
  if (!res.headersSent) {
    res.statusCode = e.httpStatus;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
  }
  res.end(body);
  return e;
}
