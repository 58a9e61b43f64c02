/**
 * What the workbench serves beside each recording and session so the UI can say how far a recording is
 * proven and who revoked a session (forensics/query/evidence.ts fills them; renderer/src/evidence.ts reads them).
 */

/** How far a recording's hash chain and signatures hold (files.intact_through, files.signed_through). */
export interface ChainFacts {
  /** The last seq whose chain is unbroken; rows after it come after a break. */
  intactThrough: number;
  /** The last seq covered by a valid signature (checkpoint or seal); rows after it are an unverified tail. */
  signedThrough: number;
  lastSeq: number;
  keyTrusted: boolean;
}

/** Who revoked a session, as the gateway's own recording (or the session's) says. */
export interface RevocationFact {
  /** The admin token's holder who asked (`by`), or the approver; null when no recording names one. */
  by: string | null;
  reason: string | null;
  /** What was revoked: `identity agent`, `token 1a2b…`. */
  what: string | null;
  /** µs, when the revocation was recorded. */
  t: number | null;
  /** The tool the request said it came through (a label, not proof), and its client address. */
  via: string | null;
  client: string | null;
  /** The gateway recording that records it (openable in the workbench), or null when only the session says so. */
  recording: string | null;
  seq: number | null;
  /** The event that says so is in the verified part of its recording. */
  verified: boolean;
}
