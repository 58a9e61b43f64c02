import { describe, expect, it } from 'vitest';
import { decodeEvent } from './decode.js';
import { EventSchemas, type EventName } from './events.js';
import { fastCheck } from './fast-check.js';
import { EventType } from './format.js';

const result = {
  statement: 7, command: 'SELECT 2', rowCount: 2, columns: [{ name: 'email', typeOid: 25, format: 'text' }],
  rows: [['[masked:email]'], [null]], rowsRecorded: 2, masked: [{ column: 'email', rule: 'email', count: 2 }], durationMicros: 120,
};
const output = { channel: 0, stream: 'stdout', data: 'aGk=', encoding: 'base64', bytes: 2, masked: [{ rule: 'ssn', count: 1 }] };

describe('the event schema', () => {
  it('has a schema for every event type the format names (ssh.policy: read only, version 1)', () => {
    for (const type of Object.values(EventType)) {
      if (type === EventType.SshPolicy) expect(Object.hasOwn(EventSchemas, type)).toBe(false);
      else expect(Object.hasOwn(EventSchemas, type), type).toBe(true);
    }
  });

  /** Variants of a valid event: each field removed, each given a wrong type, an extra field. */
  function variants(data: Record<string, unknown>): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [data, { ...data, extra: 1 }];
    for (const k of Object.keys(data)) {
      const { [k]: _, ...rest } = data;
      out.push(rest);
      for (const bad of [null, 'x', 1.5, -1, true, [], {}, [{}], [['a']], [{ rule: 'r', count: 1 }]]) out.push({ ...data, [k]: bad });
    }
    return out;
  }

  it('the plain checks of the hot events give the schema\'s answers', () => {
    const cases: [EventName, Record<string, unknown>][] = [
      [EventType.PgResult, result],
      [EventType.PgResult, { ...result, masked: undefined, copyBytes: 10, suspended: true, statement: null, durationMicros: null }],
      [EventType.SshOutput, output],
      [EventType.SshInput, { channel: 1, data: 'ls\r', encoding: 'utf8', bytes: 3 }],
      [EventType.PgQuery, { sql: 'select 1', forwarded: 'select 1 /* masked */' }],
      [EventType.PgQuery, { functionCall: true }],
      [EventType.PgError, { statement: 3, severity: 'ERROR', code: '42P01', message: 'no such table', detail: 'd', hint: 'h', position: '4' }],
      [EventType.PgError, { severity: 'FATAL', code: '08001', message: 'unreachable', reason: 'UPSTREAM_UNAVAILABLE' }],
      [EventType.PgNotice, { statement: null, severity: 'NOTICE', code: '00000', message: 'ok' }],
      [EventType.SshLine, { channel: 0, line: 'rm -rf /', judged: 'rm -rf /', uncertain: true, uncertainReasons: ['a'], lines: 2, partial: false,
        action: 'block', rule: 'no-rm', reason: 'no' }],
    ];
    let checked = 0;
    for (const [type, data] of cases) {
      for (const v of variants(data)) {
        const byZod = EventSchemas[type].safeParse(v).success;
        // The plain check may only say true where the schema does; on the writers' shapes it must say true.
        if (fastCheck(type, v)) expect(byZod, `${type} ${JSON.stringify(v)}`).toBe(true);
        expect(decodeEvent(2, type, v).kind === 'known', `${type} ${JSON.stringify(v)}`).toBe(byZod);
        checked++;
      }
      expect(fastCheck(type, data), type).toBe(true);
    }
    expect(checked).toBeGreaterThan(200);
  });
});

describe('decodeEvent', () => {
  it('returns the current shape as it is', () => {
    expect(decodeEvent(2, EventType.PgResult, result)).toEqual({ kind: 'known', type: 'pg.result', data: result });
    const end = { reason: 'revoked: identity bob', cause: 'revoked', by: 'alice', revocation: { identity: 'bob', by: 'alice', reason: 'leaked key' } };
    expect(decodeEvent(2, EventType.SessionEnd, end)).toEqual({ kind: 'known', type: 'session.end', data: end });
  });

  it('upgrades version-1 masking notes: PostgreSQL [{field|column, rule, count}], SSH {rule: count}', () => {
    const pg = decodeEvent(1, EventType.PgResult, { ...result, masked: [{ field: 'email', rule: 'email', count: 2 }, { rule: 'copy', count: 1 }] });
    expect(pg).toMatchObject({ kind: 'known', data: { masked: [{ column: 'email', rule: 'email', count: 2 }, { rule: 'copy', count: 1 }] } });
    const ssh = decodeEvent(1, EventType.SshOutput, { ...output, masked: { ssn: 2, email: 1 } });
    expect(ssh).toMatchObject({ kind: 'known', data: { masked: [{ rule: 'ssn', count: 2 }, { rule: 'email', count: 1 }] } });
    // A numeric column format (PostgreSQL's code) and a data event without a channel (one-channel writers).
    expect(decodeEvent(1, EventType.PgResult, { ...result, columns: [{ name: 'a', typeOid: 25, format: 0 }] }))
      .toMatchObject({ kind: 'known', data: { columns: [{ name: 'a', format: 'text' }] } });
    expect(decodeEvent(1, EventType.SshInput, { data: 'x', encoding: 'utf8', bytes: 1 })).toMatchObject({ kind: 'known', data: { channel: 0 } });
    // A version-1 result without the fields it did not record: none recorded.
    expect(decodeEvent(1, EventType.PgResult, { statement: 3, command: 'TRUNCATE TABLE', rowCount: 0, masked: { email: 2 } })).toMatchObject({ kind: 'known',
      data: { statement: 3, columns: [], rows: [], rowsRecorded: 0, durationMicros: null, masked: [{ rule: 'email', count: 2 }] } });
    expect(decodeEvent(2, EventType.PgResult, { statement: 3, command: 'TRUNCATE TABLE', rowCount: 0 }).kind).toBe('invalid');
    // Version 2 reads what version 2 writes: an object is not a masking note any more.
    expect(decodeEvent(2, EventType.SshOutput, { ...output, masked: { ssn: 2 } }).kind).toBe('invalid');
  });

  it('upgrades version-1 ssh.policy steps to approval events', () => {
    expect(decodeEvent(1, EventType.SshPolicy, { channel: 2, operation: 'systemctl restart app', rule: 'restarts', step: 'held', approvalId: 'a-1' }))
      .toEqual({ kind: 'known', type: 'approval.requested', data: { statement: null, id: 'a-1', rule: 'restarts', operation: 'systemctl restart app', channel: 2 } });
    expect(decodeEvent(1, EventType.SshPolicy, { channel: 2, operation: 'x', rule: 'r', step: 'denied', approver: 'alice', approvalId: 'a-1', waitedMicros: 5 }))
      .toMatchObject({ kind: 'known', type: 'approval.decided', data: { id: 'a-1', decision: 'denied', approver: 'alice', waitedMicros: 5 } });
    // No approval id recorded: the step keeps its decision, with no id made up.
    expect(decodeEvent(1, EventType.SshPolicy, { channel: 2, operation: 'x', rule: 'r', step: 'held' })).toMatchObject({ data: { id: '' } });
  });

  it('gives version-1 session ends the cause their writer meant, never a reading of free text', () => {
    const cause = (data: Record<string, unknown>) => (decodeEvent(1, EventType.SessionEnd, data) as { data: { cause: string } }).data.cause;
    expect(cause({ reason: 'gateway shutdown', cause: 'shutdown' })).toBe('gateway-shutdown');
    expect(cause({ reason: 'revoked: identity bob', cause: 'revoked' })).toBe('revoked');
    expect(decodeEvent(1, EventType.SessionEnd, { reason: 'revoked: identity bob, via ancestor session s-1', cause: 'revoked' }))
      .toMatchObject({ data: { cause: 'ancestor-revoked', ancestor: 's-1' } });
    expect(cause({ reason: 'client closed the connection' })).toBe('client-quit');
    expect(cause({ reason: 'the target closed the connection', statementsInFlight: 0 })).toBe('target-closed');
    expect(cause({ reason: 'recording failed' })).toBe('recording-failed');
    expect(cause({ reason: 'protocol violation: bad message' })).toBe('protocol-violation');
    expect(cause({ reason: 'token revoked by alice' })).toBe('unrecorded'); // free text: not guessed at
  });

  it('keeps unknown types apart and reports a known type that does not match, without throwing', () => {
    expect(decodeEvent(2, 'journal.next', { a: 1 })).toEqual({ kind: 'unknown', type: 'journal.next', data: { a: 1 } });
    const bad = decodeEvent(2, EventType.Revoked, { identity: 'bob', at: 1, sessionsCut: [] });
    expect(bad.kind).toBe('invalid');
    expect(bad.kind === 'invalid' && bad.message).toMatch(/^revoked does not match its schema \(version 2\) at by/);
    expect(decodeEvent(1, EventType.SshPolicy, { step: 3 }).kind).toBe('invalid');
    expect(decodeEvent(2, EventType.PgResult, { rows: 'x' }).kind).toBe('invalid');
  });
});
