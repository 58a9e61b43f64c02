import { EventType, type EventMap } from '../../common/recording/index.js';
import { HopscopeError } from '../../common/errors.js';
import type { SqlSessionPolicy } from '../policy/types.js';
import type { RecordingWriter } from '../recording/index.js';
import type { ClientEncoding } from './encoding.js';
import {
  serializeBackend as backend, serializeParseBytes, serializeQueryBytes,
  type BindMessage, type FrontendMessage, type ParseMessage, type QueryMessage,
} from './protocol/index.js';
import type { ResponseStream } from './responses.js';
import { jsonString, type ResultRecorder } from './results.js';
import { ExtendedState, nameKeyAt } from './statements.js';

export type Admissible = Exclude<FrontendMessage, { name: 'error' }>;
export type Statement = QueryMessage | ParseMessage;
type Refusal = { action: 'block' | 'review'; rule: string; reason: string };

/** A statement the policy sent for review: held, then forwarded as `raw` (the rewritten text when there is one) or refused. */
export interface Held { msg: Statement; seq: number; verdict: Refusal; raw: Buffer; forward: string | undefined }

/**
 * What admitting a message left to do: nothing, hold it for approval, read the catalog and judge it again,
 * or wait until the server has answered every statement in flight and judge it then (`settle`).
 */
export type Outcome = undefined | { hold: Held } | { refresh: Statement } | { settle: Statement };

/**
 * A text PostgreSQL reads otherwise when an earlier statement changed standard_conforming_strings (a
 * backslash) or client_encoding (a character outside ASCII). The server reports such a change
 * (ParameterStatus, which ends the session) only before its next ReadyForQuery, so a text like this
 * pipelined behind other statements is judged after they have all been answered.
 */
/** What a text must contain to prepare or drop a statement by SQL (then it is parsed again for the names). */
const PREPARE_WORDS = /prepare|deallocate|discard/i;

const SETTING_SENSITIVE = /[\\\u0080-\uffff]/;

/**
 * What the server is asked to parse in place of a refused statement: a syntax
 * error, so the server fails exactly where the refused statement was and does
 * what PostgreSQL does on any error in a batch (aborts the implicit transaction
 * or fails the explicit one, skips to Sync). The client sees the gateway's error.
 */
const REFUSED_SQL = Buffer.from('hopscope refused this statement');

export interface AdmitterDeps {
  writer: RecordingWriter;
  responses: ResponseStream;
  results: ResultRecorder;
  policy: SqlSessionPolicy;
  encoding: ClientEncoding;
  /** Whether rows are masked: then every Execute's rows must come after its portal's row description. */
  masking: boolean;
  statementSent(): void;
  /** Records and counts a refusal (the one policy lifecycle both protocols share). */
  refused(seq: number, verdict: Refusal): void;
}

/**
 * Records each client message and decides it: forwarded (queued in `outbox`),
 * answered by the gateway, held for approval, or sent back to be judged again
 * once the catalog is read. Every Query and Parse is recorded with the text the
 * client sent and, when the policy rewrote it, the text forwarded instead.
 */
export class Admitter {
  outbox: Buffer[] = [];
  private skippingToSync = false;
  private readonly extended = new ExtendedState();

  constructor(private readonly d: AdmitterDeps) {}

  /** An Execute went to the server since the last Sync: what it changed is reported only after that Sync. */
  private executedSinceSync = false;

  admit(msg: Admissible, refreshed = false, settled = false): Outcome {
    if (this.skippingToSync && msg.name !== 'sync') return undefined; // dropped, as the server would
    const d = this.d;
    switch (msg.name) {
      case 'query': case 'parse': return this.statement(msg, refreshed, settled);
      case 'bind': {
        const portal = nameKeyAt(msg.raw, 5);
        const statement = nameKeyAt(msg.raw, portal.next);
        if (!this.stillAllowed(statement.key, statement.bytes)) return undefined;
        this.extended.bound(portal.key, d.encoding.decodeLossy(portal.bytes), statement.key, d.encoding.decodeLossy(statement.bytes), renderParams(msg, d.encoding));
        this.send(msg.raw, 'bind');
        return undefined;
      }
      case 'describe': {
        this.outbox.push(msg.raw);
        if (msg.kind === 'P' && d.masking) {
          const name = nameKeyAt(msg.raw, 6);
          const portal = this.extended.portal(name.key, d.encoding.decodeLossy(name.bytes));
          portal.described = true;
          d.responses.expectDescribe(portal, false);
        } else {
          d.responses.expect('describe'); // a statement's description (formats not final), or no masking: nothing kept
        }
        return undefined;
      }
      case 'execute': return this.execute(msg);
      case 'sync':
        this.skippingToSync = false;
        this.send(msg.raw, 'sync');
        return undefined;
      case 'close':
        this.extended.closed(msg.kind, nameKeyAt(msg.raw, 6).key);
        this.send(msg.raw, 'close');
        return undefined;
      case 'copyData':
        d.writer.append(EventType.PgCopyData, { bytes: msg.data.length });
        this.outbox.push(msg.raw);
        return undefined;
      case 'flush': case 'copyDone': case 'copyFail':
        this.outbox.push(msg.raw);
        return undefined;
      case 'functionCall':
        // Fast-path calls name functions by OID, out of reach of SQL guardrails: refused.
        this.refuse(d.writer.append(EventType.PgQuery, { functionCall: true }),
          { action: 'block', rule: 'function-call-protocol', reason: 'the fast-path function call protocol is not allowed' }, undefined);
        return undefined;
      default:
        throw new HopscopeError('PROTOCOL_VIOLATION', `unexpected ${msg.name} message after startup`);
    }
  }

  /** A Query or Parse: judged, recorded with its verdict (and what is forwarded), then sent, refused or held. */
  private statement(msg: Statement, refreshed: boolean, settled: boolean): Outcome {
    const d = this.d;
    const unsettled = !settled && (this.executedSinceSync || d.results.inFlight > 0) && !msg.undecodable && SETTING_SENSITIVE.test(msg.sql);
    // Behind an unsynced Execute nothing can be waited for (the server answers the batch after the client's Sync): refused.
    if (unsettled && !this.executedSinceSync) return { settle: msg };
    const verdict = msg.undecodable
      ? { action: 'block' as const, rule: 'client-encoding', reason: `the statement's bytes are not valid ${d.encoding.name}, the encoding the server reads them in` }
      : unsettled
        ? { action: 'block' as const, rule: 'pipelined-settings', reason: 'a text with a backslash or a non-ASCII character follows an Execute of the same batch, which may have changed how the server reads it (standard_conforming_strings, client_encoding): send a Sync before it' }
        : d.policy.judge(msg.sql, msg.name === 'parse' ? { refreshed, prepareAs: d.encoding.decodeLossy(nameKeyAt(msg.raw, 5).bytes) } : { refreshed });
    if (verdict.action === 'refresh') return { refresh: msg };
    let decided: { action: 'allow' } | Refusal = verdict;
    let raw = msg.raw;
    const forward = verdict.forward;
    if (forward !== undefined) {
      const bytes = d.encoding.encode(forward);
      if (bytes === undefined) {
        decided = { action: 'block', rule: 'client-encoding', reason: `the rewritten statement cannot be written in ${d.encoding.name}` };
      } else {
        raw = msg.name === 'query' ? serializeQueryBytes(bytes) : serializeParseBytes(nameKeyAt(msg.raw, 5).bytes, bytes, msg.paramTypes);
      }
    }
    if (msg.name === 'query') {
      const seq = d.writer.appendJson(EventType.PgQuery, pgQueryJson(msg.sql, forward));
      this.extended.simpleQuery();
      if (decided.action === 'allow') {
        this.send(raw, 'query', seq);
        if (PREPARE_WORDS.test(msg.sql)) this.extended.preparedBySql(msg.sql, forward, seq, d.policy.generation, (name) => d.encoding.encode(name)?.toString('latin1'));
      }
      else if (decided.action === 'block') this.refuse(seq, decided, undefined);
      else return { hold: { msg, seq, verdict: decided, raw, forward } };
      return undefined;
    }
    const key = nameKeyAt(msg.raw, 5);
    const name = d.encoding.decodeLossy(key.bytes);
    const seq = d.writer.appendJson(EventType.PgParse, pgParseJson(name, msg.sql, forward, decided.action));
    this.extended.forgetStatement(key.key);
    if (decided.action === 'allow') {
      this.extended.parsed(key.key, { name, sql: msg.sql, forwarded: forward, parseSeq: seq, generation: d.policy.generation });
      this.send(raw, 'parse');
    } else if (decided.action === 'block') {
      this.refuse(seq, decided, key.bytes);
    } else {
      return { hold: { msg, seq, verdict: decided, raw, forward } };
    }
    return undefined;
  }

  /**
   * A statement prepared under policies since reloaded is judged again before it is bound: it runs only if the
   * policies in force allow it exactly as it was prepared (the server holds that text: a new rewrite cannot
   * apply to it). Otherwise the Bind is refused (rule policy-reload) and the client must prepare it again.
   */
  private stillAllowed(key: string, nameBytes: Buffer): boolean {
    const d = this.d;
    const st = this.extended.statement(key);
    if (!st || st.generation === d.policy.generation) return true;
    // The session's policy remembers the name already (carried over the reload): the text is judged, not prepared again.
    const verdict = d.policy.judge(st.sql);
    const same = verdict.action === 'allow' && (verdict.forward ?? st.sql) === (st.forwarded ?? st.sql);
    if (same) {
      st.generation = d.policy.generation;
      return true;
    }
    const why = verdict.action === 'allow' ? 'they rewrite it differently'
      : verdict.action === 'refresh' ? 'they need the catalog read again' : `${verdict.action} it (rule ${verdict.rule}: ${verdict.reason})`;
    const seq = d.writer.append(EventType.PgBind, { statement: st.name, parse: st.parseSeq });
    this.extended.forgetStatement(key); // the stand-in Parse below drops the unnamed statement at the server
    this.refuse(seq, { action: 'block', rule: 'policy-reload', reason: `statement "${st.name}" was prepared before the policies were reloaded, and the policies in force ${why}: prepare it again` }, nameBytes);
    return false;
  }

  private execute(msg: Extract<Admissible, { name: 'execute' }>): Outcome {
    const d = this.d;
    const name = nameKeyAt(msg.raw, 5);
    const portal = this.extended.portal(name.key, d.encoding.decodeLossy(name.bytes));
    if (d.masking && !portal.described) {
      // The client did not describe this portal: the gateway asks, so its rows are masked by
      // their own columns, and keeps the answer from the client, which did not ask.
      this.outbox.push(describePortal(name.bytes));
      d.responses.expectDescribe(portal, true);
      portal.described = true;
    }
    const st = portal.statement;
    const data: EventMap['pg.execute'] = {
      sql: st?.sql ?? null, statement: portal.statementName, parse: st?.parseSeq ?? null, portal: portal.name, params: portal.params,
    };
    if (st?.forwarded !== undefined) data.forwarded = st.forwarded;
    if (msg.maxRows > 0) data.maxRows = msg.maxRows;
    const seq = d.writer.append(EventType.PgExecute, data);
    this.outbox.push(msg.raw);
    this.executedSinceSync = true;
    if (d.masking) d.responses.expectExecute(portal);
    else d.responses.expect('execute');
    d.results.statementSent('execute', seq);
    d.statementSent();
    return undefined;
  }

  /** An approved statement goes as judged (its rewritten text when there is one). */
  approved(held: Held): void {
    const { msg } = held;
    if (msg.name === 'parse') {
      this.extended.parsed(nameKeyAt(msg.raw, 5).key, { name: this.d.encoding.decodeLossy(nameKeyAt(msg.raw, 5).bytes), sql: msg.sql, forwarded: held.forward,
        parseSeq: held.seq, generation: this.d.policy.generation });
      this.send(held.raw, 'parse');
    } else {
      this.send(held.raw, 'query', held.seq);
    }
  }

  send(raw: Buffer, kind: 'query' | 'parse' | 'bind' | 'close' | 'sync', seq?: number): void {
    this.outbox.push(raw);
    this.d.responses.expect(kind);
    if (seq !== undefined) {
      this.d.results.statementSent('query', seq);
      this.d.statementSent();
    }
    if (kind === 'sync') {
      this.d.results.syncSent();
      this.executedSinceSync = false;
    }
  }

  /**
   * Answers a statement the gateway will not forward. The server gets a stand-in
   * that must fail (REFUSED_SQL) where the statement was, and the client gets the
   * gateway's error in place of the server's, so the session goes on as after
   * PostgreSQL's own error: an extended-protocol statement (`parseName`: the bytes
   * of the name its Parse gave) becomes a Parse, and the rest of its batch goes as
   * PostgreSQL takes it — earlier statements of the batch roll back with the
   * implicit transaction, later messages are skipped to Sync; a simple Query
   * becomes a Query. Either way an explicit transaction fails (ReadyForQuery says
   * E, and COMMIT rolls back), and the status byte the client sees is the server's.
   */
  refuse(seq: number, verdict: Refusal, parseName: Buffer | undefined, code = '42501', message?: string, recorded = false): void {
    if (!recorded) this.d.refused(seq, verdict);
    const error = backend.errorResponse({
      severity: 'ERROR', code, message: message ?? `hopscope: blocked by rule ${verdict.rule}: ${verdict.reason}`,
    });
    if (parseName !== undefined) {
      this.skippingToSync = true;
      this.outbox.push(serializeParseBytes(parseName, REFUSED_SQL, []));
      this.d.responses.expectRefusal(error);
      return;
    }
    this.outbox.push(serializeQueryBytes(REFUSED_SQL));
    this.d.responses.expectRefusal(error, true);
    this.d.responses.expect('query');
    this.d.results.syncSent(); // the stand-in's ReadyForQuery, to the recorder: the end of nothing it records
  }

  /** A held statement that was not approved (the lifecycle recorded and counted the decision). */
  refuseHeld(held: Held, code: string, message: string): void {
    this.refuse(held.seq, held.verdict, held.msg.name === 'parse' ? nameKeyAt(held.msg.raw, 5).bytes : undefined, code, message, true);
  }

  /** Takes what is queued for the server. */
  take(): Buffer[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }
}

/** Describe('P', name), the name as the client's bytes. */
function describePortal(name: Buffer): Buffer {
  const out = Buffer.allocUnsafe(7 + name.length);
  out[0] = 0x44; // 'D'
  out.writeUInt32BE(6 + name.length, 1);
  out[5] = 0x50; // 'P'
  name.copy(out, 6);
  out[6 + name.length] = 0;
  return out;
}

/** Bind parameters as recorded: text ones decoded in the session's encoding, binary ones as base64. */
function renderParams(msg: BindMessage, encoding: ClientEncoding): unknown[] {
  const formatOf = (i: number) => (msg.paramFormats.length === 1 ? msg.paramFormats[0] : msg.paramFormats[i]) ?? 0;
  return msg.params.map((p, i) => {
    if (p === null) return null;
    if (formatOf(i) === 1) return { base64: p.toString('base64') };
    if (p.length > 4096) return { cut: encoding.decodeLossy(p.subarray(0, 4096)), length: p.length };
    return encoding.decode(p) ?? { base64: p.toString('base64') };
  });
}

/**
 * The `pg.query` data as JSON.stringify would write `{sql, forwarded?}` (EventMap['pg.query']),
 * without the generic walk: one per statement. A test decodes it with the schema.
 */
export function pgQueryJson(sql: string, forwarded: string | undefined): string {
  return `{"sql":${jsonString(sql)}${forwarded !== undefined ? `,"forwarded":${jsonString(forwarded)}` : ''}}`;
}

/** The `pg.parse` data as JSON.stringify would write `{statement, sql, forwarded?, verdict}` (EventMap['pg.parse']). */
export function pgParseJson(statement: string, sql: string, forwarded: string | undefined, verdict: string): string {
  return `{"statement":${jsonString(statement)},"sql":${jsonString(sql)}${forwarded !== undefined ? `,"forwarded":${jsonString(forwarded)}` : ''},` +
    `"verdict":${jsonString(verdict)}}`;
}
