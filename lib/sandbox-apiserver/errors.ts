/**
 * Kubernetes `Status` error bodies, byte-compatible with the real API server
 * (field order: kind, apiVersion, metadata, status, message, reason, details, code).
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details !== undefined) {
    // keep "code" last, as the real server does
    delete (s as { code?: number }).code;
    s.details = details;
    s.code = code;
  }
  return s;
}

export function success(details: StatusDetails): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details, code: 200 } as Status;
}

/** An error that the HTTP layer turns into a Status response. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.name = 'ApiError';
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

const details = (name: string | undefined, kind: string): StatusDetails => (name ? { name, kind } : { kind });

/** `services "foo" not found` (kind is the resource, e.g. "services"). */
export function notFound(resource: string, name: string): ApiError {
  return new ApiError(failure(404, 'NotFound', `${resource} "${name}" not found`, details(name, resource)));
}

export function alreadyExists(resource: string, name: string): ApiError {
  return new ApiError(failure(409, 'AlreadyExists', `${resource} "${name}" already exists`, details(name, resource)));
}

export function conflict(resource: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError(failure(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": ${why}`, details(name, resource)));
}

export function badRequest(message: string): ApiError {
  return new ApiError(failure(400, 'BadRequest', message));
}

export function forbidden(resource: string, name: string, why: string): ApiError {
  return new ApiError(failure(403, 'Forbidden', `${resource} "${name}" is forbidden: ${why}`, details(name, resource)));
}

export function methodNotAllowed(): ApiError {
  return new ApiError(failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
}

export function resourceNotFound(): ApiError {
  return new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource', {}));
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return new ApiError(
    failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, {}),
  );
}

export function expired(message: string): ApiError {
  return new ApiError(failure(410, 'Expired', message));
}

export function gone(message: string): ApiError {
  return new ApiError(failure(410, 'Gone', message));
}

export function internalError(message: string): ApiError {
  return new ApiError(failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] }));
}

export function tooLarge(): ApiError {
  return new ApiError(failure(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
}

// ---------------------------------------------------------------------------
// Field errors (k8s.io/apimachinery/pkg/util/validation/field) → 422 Invalid
// ---------------------------------------------------------------------------

export type FieldErrorType = 'Required' | 'Invalid' | 'NotSupported' | 'Duplicate' | 'Forbidden' | 'InternalError' | 'TooLong';

export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail?: string;
  /** Supported values (NotSupported). */
  supported?: readonly string[];
}

const REASONS: Record<FieldErrorType, string> = {
  Required: 'FieldValueRequired',
  Invalid: 'FieldValueInvalid',
  NotSupported: 'FieldValueNotSupported',
  Duplicate: 'FieldValueDuplicate',
  Forbidden: 'FieldValueForbidden',
  InternalError: 'InternalError',
  TooLong: 'FieldValueTooLong',
};

/** Go's %#v / %q-ish rendering of a value in a field error. */
export function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return `[]string{${v.map((x) => JSON.stringify(x)).join(', ')}}`;
  return JSON.stringify(v);
}

/** The message part after "<field>: ". */
export function fieldErrorBody(e: FieldError): string {
  switch (e.type) {
    case 'Required':
      return e.detail ? `Required value: ${e.detail}` : 'Required value';
    case 'Invalid':
      return `Invalid value: ${formatValue(e.value)}${e.detail ? `: ${e.detail}` : ''}`;
    case 'NotSupported': {
      let s = `Unsupported value: ${formatValue(e.value)}`;
      if (e.supported && e.supported.length) s += `: supported values: ${e.supported.map((x) => JSON.stringify(x)).join(', ')}`;
      return s;
    }
    case 'Duplicate':
      return `Duplicate value: ${formatValue(e.value)}`;
    case 'Forbidden':
      return e.detail ? `Forbidden: ${e.detail}` : 'Forbidden';
    case 'InternalError':
      return `Internal error: ${e.detail ?? ''}`;
    case 'TooLong':
      return `Too long: ${e.detail ?? ''}`;
  }
}

export function fieldErrorString(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

/** `Service "foo" is invalid: spec.ports: Required value` (422 Invalid). */
export function invalid(kind: string, name: string, errs: readonly FieldError[]): ApiError {
  const list = errs.map(fieldErrorString);
  const msg = `${kind} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`;
  const d: StatusDetails = name ? { name, kind } : { kind };
  d.causes = errs.map((e) => ({ reason: REASONS[e.type], message: fieldErrorBody(e), field: e.field }));
  return new ApiError(failure(422, 'Invalid', msg, d));
}

export const required = (field: string, detail?: string): FieldError => ({ type: 'Required', field, detail });
export const invalidValue = (field: string, value: unknown, detail?: string): FieldError => ({ type: 'Invalid', field, value, detail });
export const notSupported = (field: string, value: unknown, supported: readonly string[]): FieldError => ({ type: 'NotSupported', field, value, supported });
export const duplicate = (field: string, value: unknown): FieldError => ({ type: 'Duplicate', field, value });
export const forbiddenField = (field: string, detail: string): FieldError => ({ type: 'Forbidden', field, detail });
