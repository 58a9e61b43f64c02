/**
 * Errors with a stable code. The code never changes once shipped; the message is
 * what a user may see; `detail` is internal and goes to the log only.
 */
export type ErrorCode =
  | 'TOKEN_MALFORMED'
  | 'TOKEN_BAD_SIGNATURE'
  | 'TOKEN_UNKNOWN_KEY'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_NOT_YET_VALID'
  | 'TOKEN_WRONG_IDENTITY'
  | 'TOKEN_REVOKED'
  | 'IDENTITY_UNKNOWN'
  | 'TARGET_UNKNOWN'
  | 'TARGET_NOT_ALLOWED'
  | 'RECORDING_UNAVAILABLE'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_AUTH_FAILED'
  | 'UPSTREAM_HOST_KEY_MISMATCH'
  | 'HOP_PARENT_ENDED'
  | 'PROTOCOL_VIOLATION'
  | 'CONFIG_INVALID'
  | 'RECORDING_INVALID'
  | 'APPROVAL_UNKNOWN'
  | 'APPROVAL_FORBIDDEN'
  | 'POLICY_BLOCKED'
  | 'POLICY_DENIED'
  | 'CONTROL_PLANE_UNAVAILABLE';

export class HopscopeError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'HopscopeError';
    this.code = code;
    this.detail = detail;
  }
}

export function isHopscopeError(err: unknown, code?: ErrorCode): err is HopscopeError {
  return err instanceof HopscopeError && (code === undefined || err.code === code);
}
