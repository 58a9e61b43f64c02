import { EventSchemas, LegacySshPolicy, type EndCause, type EventMap, type EventName } from './events.js';
import { EventType } from './format.js';
import { fastCheck } from './fast-check.js';

/** The format version whose shapes `EventMap` describes; earlier versions are upgraded on read. */
export const CURRENT_EVENTS_VERSION = 2;

/** A known event, checked against its schema, in the current version's shape. */
export type KnownEvent = { [K in EventName]: { kind: 'known'; type: K; data: EventMap[K] } }[EventName];
/** A type this reader does not know (a newer gateway's): stored as recorded, never guessed at. */
export interface UnknownEvent { kind: 'unknown'; type: string; data: Record<string, unknown> }
/** A known type whose data does not match its schema: a decode finding; the event is stored as recorded. */
export interface InvalidEvent { kind: 'invalid'; type: string; data: Record<string, unknown>; message: string }
export type DecodedEvent = KnownEvent | UnknownEvent | InvalidEvent;

/**
 * Decodes an event's data for the format `version` of its recording: upgrades a
 * version-1 shape (masking notes as `{rule: count}`, `ssh.policy` steps, a
 * session end without a cause) to the current one, then checks it. The hot
 * events (results, terminal data, statements) are checked by hand
 * (fast-check.ts, held to the schemas' answers by a test); the rest by zod.
 * Never throws.
 */
export function decodeEvent(version: number, type: string, data: Record<string, unknown>): DecodedEvent {
  let t = type;
  let d = data;
  if (type === EventType.SshPolicy) {
    const up = upgradeSshPolicy(data);
    if (typeof up === 'string') return { kind: 'invalid', type, data, message: up };
    ({ type: t, data: d } = up);
  } else if (version < CURRENT_EVENTS_VERSION) {
    d = upgradeV1(type, data);
  }
  if (!Object.hasOwn(EventSchemas, t)) return { kind: 'unknown', type, data };
  const name = t as EventName;
  if (fastCheck(name, d)) return { kind: 'known', type: name, data: d } as unknown as KnownEvent;
  const parsed = EventSchemas[name].safeParse(d);
  if (parsed.success) return { kind: 'known', type: name, data: parsed.data } as unknown as KnownEvent;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? ` at ${issue.path.map(String).join('.')}` : '';
  return { kind: 'invalid', type, data, message: `${type} does not match its schema (version ${version})${where}: ${issue?.message ?? 'invalid'}` };
}

/** Version 1 → current, for the shapes that changed; everything else was already current. */
function upgradeV1(type: string, data: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case EventType.PgResult: {
      // Fields a version-1 result may lack stand for "not recorded": no columns or rows, no time, no statement.
      let out = data.columns === undefined || data.rows === undefined || data.rowsRecorded === undefined || data.durationMicros === undefined ||
        data.statement === undefined
        ? { statement: null, columns: [], rows: [], durationMicros: null, ...data, rowsRecorded: data.rowsRecorded ?? (Array.isArray(data.rows) ? data.rows.length : 0) }
        : data;
      const columns: unknown = out.columns;
      if (Array.isArray(columns) && columns.some(numericFormat)) out = { ...out, columns: columns.map(formatName) };
      if (data.masked !== undefined) out = { ...out, masked: maskNotes(data.masked) };
      return out;
    }
    case EventType.SshOutput:
    case EventType.SshInput: {
      // Single-channel writers before channels were numbered wrote none: their one channel is 0.
      const out = data.channel === undefined ? { ...data, channel: 0 } : data;
      return data.masked === undefined ? out : { ...out, masked: maskNotes(data.masked) };
    }
    case EventType.SessionEnd:
      // Version 1 named two causes, `shutdown` and `revoked`; a later cause is kept as written.
      return data.cause === undefined || data.cause === 'shutdown' || data.cause === 'revoked' ? { ...data, ...legacyEnd(data) } : data;
    default:
      return data;
  }
}

/** A column format as PostgreSQL's code (0 text, 1 binary), as some version-1 writers recorded it. */
function numericFormat(c: unknown): boolean {
  return typeof c === 'object' && c !== null && typeof (c as { format?: unknown }).format === 'number';
}

function formatName(c: unknown): unknown {
  if (!numericFormat(c)) return c;
  const col = c as { format: number };
  return { ...col, format: col.format === 1 ? 'binary' : col.format === 0 ? 'text' : col.format };
}

/** Version 1 masking notes: PostgreSQL `[{column|field, rule, count}]`, SSH `{rule: count}`. */
function maskNotes(masked: unknown): unknown {
  if (Array.isArray(masked)) {
    return masked.map((m: unknown) => {
      if (!m || typeof m !== 'object') return m;
      const { field, column, ...rest } = m as Record<string, unknown>;
      const name = column ?? field;
      return name === undefined ? rest : { column: name, ...rest };
    });
  }
  if (masked && typeof masked === 'object') return Object.entries(masked).map(([rule, count]) => ({ rule, count }));
  return masked;
}

/**
 * A version-1 session end's cause: `shutdown` / `revoked` as that writer named
 * them, else the exact reasons it wrote (fixed strings in its source, not a
 * reading of free text). A reason it did not classify stays `unrecorded`.
 */
function legacyEnd(data: Record<string, unknown>): { cause: EndCause; ancestor?: string } {
  const reason = typeof data.reason === 'string' ? data.reason : '';
  if (data.cause === 'shutdown') return { cause: 'gateway-shutdown' };
  if (data.cause === 'revoked') {
    const via = /, via ancestor session (\S+)$/.exec(reason);
    return via ? { cause: 'ancestor-revoked', ancestor: via[1]! } : { cause: 'revoked' };
  }
  const exact = LEGACY_REASONS.get(reason);
  if (exact) return { cause: exact };
  for (const [prefix, cause] of LEGACY_PREFIXES) if (reason.startsWith(prefix)) return { cause };
  return { cause: 'unrecorded' };
}

/** The fixed session-end reasons of the version-1 gateway, and the prefixes of those it completed with a detail. */
const LEGACY_REASONS = new Map<string, EndCause>([
  ['client closed the connection', 'client-quit'], ['client terminated the session', 'client-quit'],
  ['client left during startup', 'client-quit'], ['client left during the handshake', 'client-quit'],
  ['the target closed the connection', 'target-closed'], ['recording failed', 'recording-failed'], ['recording failed at start', 'recording-failed'],
  ['gateway shutdown', 'gateway-shutdown'], ['the gateway is shutting down', 'gateway-shutdown'], ['authentication took too long', 'timeout'],
]);
const LEGACY_PREFIXES: ReadonlyArray<[string, EndCause]> = [
  ['client error: ', 'client-error'], ['target error: ', 'target-error'], ['protocol violation: ', 'protocol-violation'],
  ['target unavailable: ', 'target-unavailable'], ['revoked during the handshake', 'revoked'], ['refused: ', 'refused'],
];

/**
 * `ssh.policy` (version 1): a hold (`held`) or its outcome, before SSH shared the
 * policy lifecycle. Becomes approval.requested / approval.decided; a step
 * that recorded no approval id gets the id '' (none): its decision is kept,
 * no approval is made up for it.
 */
function upgradeSshPolicy(data: Record<string, unknown>): { type: string; data: Record<string, unknown> } | string {
  const parsed = LegacySshPolicy.safeParse(data);
  if (!parsed.success) return `ssh.policy does not match its version-1 schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
  const p = parsed.data;
  const id = p.approvalId ?? '';
  const channel = p.channel === undefined ? {} : { channel: p.channel };
  if (p.step === 'held') {
    return { type: EventType.ApprovalRequested, data: { statement: null, id, rule: p.rule, operation: p.operation, ...channel } };
  }
  return {
    type: EventType.ApprovalDecided,
    data: { statement: null, id, decision: p.step, approver: p.approver ?? null, reason: null, waitedMicros: p.waitedMicros ?? null,
      operation: p.operation, rule: p.rule, ...channel },
  };
}
