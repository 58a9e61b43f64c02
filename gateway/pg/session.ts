import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import { EventType } from '../../common/recording/index.js';
import type { GatewayMetrics } from '../admin/index.js';
import type { Logger } from '../log.js';
import type { PolicyContext, PolicyPipeline, Verdict } from '../policy/index.js';
import type { RecordingWriter } from '../recording/index.js';
import type { LiveSession, SessionInfo, TerminationReason } from '../sessions.js';
import { RowMasker } from './masking.js';
import { serializeBackend as backend, FrontendParser, type BindMessage, type FrontendMessage } from './protocol/index.js';
import { ResponseStream } from './responses.js';
import { jsonString, ResultRecorder } from './results.js';
import { cancelUpstream, type Upstream } from './upstream.js';

export interface RelayDeps {
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
  policy: PolicyPipeline;
  maxRowsPerResult: number;
  upstreamAddress: { host: string; port: number };
}

/** The random key a client uses to cancel; it never learns the upstream's. */
export interface CancelKey { processId: number; secretKey: Buffer }

type Admissible = Exclude<FrontendMessage, { name: 'error' }>;

const RESULT_WRITE_DELAY_MS = 5;

/**
 * What the server is asked to parse in place of a refused extended-protocol
 * statement: a syntax error, so the server fails exactly where the refused
 * statement was and does what PostgreSQL does on any error in a batch (aborts
 * the implicit transaction or fails the explicit one, skips to Sync). The
 * client sees the gateway's error instead of the server's.
 */
const REFUSED_SQL = 'hopscope refused this statement';

/**
 * The steady state of one PostgreSQL session. Client messages are decoded,
 * recorded, judged by the policy pipeline and — when allowed — forwarded
 * unchanged after their events are written (write before forward). A blocked
 * statement is answered by the gateway; one under review is held until an
 * approver decides. Server answers are framed, masked, recorded and relayed in
 * order with the gateway's own answers. Backpressure both ways bounds memory.
 */
export class PgRelay implements LiveSession {
  readonly cancelKey: CancelKey = { processId: randomBytes(4).readUInt32BE() & 0x7fffffff, secretKey: randomBytes(4) };
  private readonly ctx: PolicyContext;
  private readonly results: ResultRecorder;
  private readonly responses: ResponseStream;
  private readonly onServerFrame: (tag: number, frame: Buffer) => void;
  private readonly bytesIn: { inc(by?: number): void };
  private readonly bytesOut: { inc(by?: number): void };
  private readonly statementsSent: { inc(by?: number): void };
  private readonly statements = new Map<string, string>(); // prepared statement name → SQL
  private readonly portals = new Map<string, { statement: string; params: unknown[] }>();
  private readonly inbox: Admissible[] = [];
  private outbox: Buffer[] = [];
  private skippingToSync = false;
  private holding: AbortController | undefined;
  private closed = false;
  private resultTimer: NodeJS.Timeout | undefined;
  private resultTimerArmed = false;
  private onClosed: (() => void) | undefined;
  /** A protocol violation the parser reported in the chunk being parsed (the last one). */
  private violation: string | undefined;
  /** The parser's callback, made once (not a closure per chunk). */
  private readonly onClientMessage = (msg: FrontendMessage): void => {
    if (msg.name === 'error') this.violation = msg.message;
    else this.inbox.push(msg);
  };

  constructor(
    readonly info: SessionInfo,
    private readonly client: Socket,
    private readonly clientParser: FrontendParser,
    private readonly upstream: Upstream,
    private readonly writer: RecordingWriter,
    private readonly deps: RelayDeps,
  ) {
    this.ctx = { session: info.id, identity: info.identity, target: info.target, protocol: 'postgres' };
    const masker = deps.policy.maskerFor(this.ctx);
    const rows = masker.active ? new RowMasker(masker) : undefined;
    this.responses = new ResponseStream(rows);
    this.results = new ResultRecorder(writer, deps.maxRowsPerResult, () => deps.clock.nowMicros(), () => rows?.take() ?? []);
    this.onServerFrame = (tag, frame) => this.results.onFrame(tag, frame);
    this.bytesIn = deps.metrics.bytesTotal.series({ direction: 'client_to_target' });
    this.bytesOut = deps.metrics.bytesTotal.series({ direction: 'target_to_client' });
    this.statementsSent = deps.metrics.statementsTotal.series({ protocol: 'postgres' });
  }

  /** Sends the client what it expects after authentication, then relays until either side ends. */
  start(onClosed: () => void): void {
    this.onClosed = onClosed;
    const hello: Buffer[] = [backend.authenticationOk()];
    for (const [name, value] of this.upstream.parameters) hello.push(backend.parameterStatus(name, value));
    hello.push(backend.backendKeyData(this.cancelKey.processId, this.cancelKey.secretKey), backend.readyForQuery('I'));
    this.client.write(Buffer.concat(hello));

    const up = this.upstream.socket;
    this.client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    this.upstream.onData((chunk) => this.fromUpstream(chunk));
    this.client.on('drain', () => up.resume());
    up.on('drain', () => { if (!this.holding) this.client.resume(); });
    this.client.on('close', () => this.end('client closed the connection'));
    up.on('close', () => this.end('the target closed the connection'));
    this.client.on('error', (err) => this.end(`client error: ${err.message}`));
    up.on('error', (err) => this.end(`target error: ${err.message}`));
  }

  /** Cancels a held statement, or asks the upstream backend to cancel its current one; recorded either way. */
  cancel(client: string): Promise<void> {
    this.record(EventType.PgCancel, { client, held: this.holding !== undefined });
    this.commitResults();
    if (this.holding) {
      this.holding.abort();
      return Promise.resolve();
    }
    return cancelUpstream(this.deps.upstreamAddress.host, this.deps.upstreamAddress.port, this.upstream.processId, this.upstream.secretKey);
  }

  /** Ends the session from the gateway's side (shutdown, revocation) with a FATAL error to the client. */
  terminate(reason: TerminationReason): void {
    if (this.closed) return;
    this.holding?.abort();
    this.client.write(backend.errorResponse({ severity: 'FATAL', code: '57P01', message: `hopscope: ${reason.message}` }));
    this.end(reason.detail, reason.code);
  }

  private fromClient(chunk: Buffer): void {
    this.bytesIn.inc(chunk.length);
    this.violation = undefined;
    this.clientParser.parse(chunk, this.onClientMessage);
    const violation = this.violation;
    this.violation = undefined;
    const pumped = this.pump();
    if (pumped) void pumped.then(() => this.violated(violation));
    else this.violated(violation);
  }

  private violated(violation: string | undefined): void {
    if (!violation) return;
    this.client.write(backend.errorResponse({ severity: 'FATAL', code: '08P01', message: `protocol violation: ${violation}` }));
    this.end(`protocol violation: ${violation}`);
  }

  /**
   * Works through the client's messages in order. The common case (no approval
   * to wait for, no fsync to wait for) runs synchronously: one recording write
   * and one upstream write per chunk, no promise. Otherwise it goes on in `pumpSlowly`.
   */
  private pump(): Promise<void> | undefined {
    if (this.holding || this.closed) return undefined;
    try {
      while (this.inbox.length && !this.closed) {
        if (this.inbox[0]!.name === 'terminate') return this.pumpSlowly();
        const msg = this.inbox.shift()!;
        const verdict = this.admit(msg);
        if (verdict.action === 'review' && (msg.name === 'query' || msg.name === 'parse')) return this.pumpSlowly({ msg, verdict });
      }
      return this.flush()?.catch((err: unknown) => this.failClosed(err));
    } catch (err) {
      this.failClosed(err);
      return undefined;
    }
  }

  /** The rest of `pump` when something must be waited for; pauses the client while a statement is held. */
  private async pumpSlowly(review?: { msg: Extract<Admissible, { name: 'query' | 'parse' }>; verdict: Verdict }): Promise<void> {
    try {
      if (review) {
        await this.flush();
        await this.hold(review.msg, review.verdict as Extract<Verdict, { rule: string }>);
      }
      while (this.inbox.length && !this.closed && !this.holding) {
        const msg = this.inbox.shift()!;
        if (msg.name === 'terminate') {
          await this.flush();
          return this.end('client terminated the session');
        }
        const verdict = this.admit(msg);
        if (verdict.action === 'review' && (msg.name === 'query' || msg.name === 'parse')) {
          await this.flush();
          await this.hold(msg, verdict);
        }
      }
      await this.flush();
    } catch (err) {
      this.failClosed(err);
    }
  }

  /** Records a message and decides: forwarded (queued in the outbox), answered by the gateway, or held. */
  private admit(msg: Admissible): Verdict {
    if (this.skippingToSync && msg.name !== 'sync') return { action: 'allow' }; // dropped, as the server would
    switch (msg.name) {
      case 'query': {
        // The same text as JSON.stringify({ sql }), without the generic walk: one per statement.
        const seq = this.writer.appendJson(EventType.PgQuery, `{"sql":${jsonString(msg.sql)}}`);
        const verdict = this.deps.policy.judgeSql(this.ctx, msg.sql);
        if (verdict.action === 'block') this.refuse(seq, verdict, undefined);
        else if (verdict.action === 'allow') this.send(msg.raw, 'query', seq);
        return verdict;
      }
      case 'parse': {
        const verdict = this.deps.policy.judgeSql(this.ctx, msg.sql);
        if (verdict.action === 'allow') {
          this.statements.set(msg.statement, msg.sql);
          this.send(msg.raw, 'parse');
        } else {
          const seq = this.record(EventType.PgParse, { statement: msg.statement, sql: msg.sql });
          if (verdict.action === 'block') this.refuse(seq, verdict, msg.statement);
        }
        return verdict;
      }
      case 'bind':
        this.portals.set(msg.portal, { statement: msg.statement, params: renderParams(msg) });
        this.send(msg.raw, 'bind');
        break;
      case 'execute': {
        const portal = this.portals.get(msg.portal);
        const data: Record<string, unknown> = {
          sql: (portal && this.statements.get(portal.statement)) ?? null, statement: portal?.statement ?? null,
          portal: msg.portal, params: portal?.params ?? [],
        };
        if (msg.maxRows > 0) data.maxRows = msg.maxRows;
        const seq = this.record(EventType.PgExecute, data);
        this.send(msg.raw, 'execute', seq);
        break;
      }
      case 'sync':
        this.skippingToSync = false;
        this.send(msg.raw, 'sync');
        break;
      case 'describe':
        this.send(msg.raw, 'describe');
        break;
      case 'close':
        if (msg.kind === 'S') this.statements.delete(msg.objectName);
        else this.portals.delete(msg.objectName);
        this.send(msg.raw, 'close');
        break;
      case 'copyData':
        this.record(EventType.PgCopyData, { bytes: msg.data.length });
        this.outbox.push(msg.raw);
        break;
      case 'flush': case 'copyDone': case 'copyFail':
        this.outbox.push(msg.raw);
        break;
      case 'functionCall':
        // Fast-path calls name functions by OID, out of reach of SQL guardrails: refused.
        this.refuse(this.record(EventType.PgQuery, { functionCall: true }),
          { action: 'block', rule: 'function-call-protocol', reason: 'the fast-path function call protocol is not allowed' }, undefined);
        return { action: 'block', rule: 'function-call-protocol', reason: '' };
      default:
        throw new HopscopeError('PROTOCOL_VIOLATION', `unexpected ${msg.name} message after startup`);
    }
    return { action: 'allow' };
  }

  private send(raw: Buffer, kind: 'query' | 'parse' | 'bind' | 'describe' | 'execute' | 'close' | 'sync', seq?: number): void {
    this.outbox.push(raw);
    this.responses.expect(kind);
    if (seq !== undefined) {
      this.results.statementSent(kind === 'query' ? 'query' : 'execute', seq);
      this.statementsSent.inc();
    }
    if (kind === 'sync') this.results.syncSent();
  }

  /**
   * Answers a statement the gateway will not forward. The server gets a stand-in
   * that must fail (REFUSED_SQL) where the statement was, and the client gets the
   * gateway's error in place of the server's, so the session goes on as after
   * PostgreSQL's own error: an extended-protocol statement (`parseName`: the name
   * its Parse gave) becomes a Parse, and the rest of its batch goes as PostgreSQL
   * takes it — earlier statements of the batch roll back with the implicit
   * transaction, later messages are skipped to Sync; a simple Query becomes a
   * Query. Either way an explicit transaction fails (ReadyForQuery says E, and
   * COMMIT rolls back), and the status byte the client sees is the server's.
   */
  private refuse(seq: number, verdict: Extract<Verdict, { rule: string }>, parseName: string | undefined, code = '42501', message?: string): void {
    this.record(EventType.PolicyBlock, { statement: seq, rule: verdict.rule, reason: verdict.reason, action: verdict.action });
    this.deps.metrics.refusalsTotal.inc({ reason: 'POLICY_BLOCKED' });
    const error = backend.errorResponse({
      severity: 'ERROR', code, message: message ?? `hopscope: blocked by rule ${verdict.rule}: ${verdict.reason}`,
    });
    if (parseName !== undefined) {
      this.skippingToSync = true;
      this.outbox.push(serialize.parse({ name: parseName, text: REFUSED_SQL }));
      this.responses.expectRefusal(error);
      return;
    }
    this.outbox.push(serialize.query(REFUSED_SQL));
    this.responses.expectRefusal(error, true);
    this.responses.expect('query');
    this.results.syncSent(); // the stand-in's ReadyForQuery, to the recorder: the end of nothing it records
  }

  /** Holds a statement for an approver; the client waits (and may cancel). */
  private async hold(msg: Extract<Admissible, { name: 'query' | 'parse' }>, verdict: Extract<Verdict, { rule: string }>): Promise<void> {
    const seq = this.writer.lastSeq;
    const controller = new AbortController();
    this.holding = controller;
    this.client.pause();
    const { id, outcome } = this.deps.policy.requestApproval(this.ctx, msg.sql, verdict.rule, controller.signal);
    this.record(EventType.ApprovalRequested, { statement: seq, id, rule: verdict.rule, reason: verdict.reason, operation: msg.sql });
    await this.commit();
    this.client.write(backend.noticeResponse({
      severity: 'NOTICE', code: '01000',
      message: `hopscope: held for approval ${id} (rule ${verdict.rule}: ${verdict.reason}); waiting for an approver`,
    }));
    const result = await outcome;
    this.holding = undefined;
    if (this.closed) return;
    this.record(EventType.ApprovalDecided, {
      statement: seq, id, decision: result.decision, approver: result.approver ?? null, reason: result.reason ?? null, waitedMicros: result.waitedMicros,
    });
    if (result.decision === 'approved') {
      if (msg.name === 'parse') this.statements.set(msg.statement, msg.sql);
      this.send(msg.raw, msg.name, msg.name === 'query' ? seq : undefined);
    } else {
      const cancelled = result.decision === 'cancelled';
      this.refuse(seq, verdict, msg.name === 'parse' ? msg.statement : undefined, cancelled ? '57014' : '42501',
        cancelled ? 'canceling statement due to user request (it was held for approval)'
          : `hopscope: approval ${id} ${result.decision === 'timeout' ? 'timed out' : 'was denied'}${result.reason ? `: ${result.reason}` : ''} (rule ${verdict.rule})`);
    }
    this.client.resume();
  }

  /**
   * Writes the recorded events, then forwards what was admitted: write before
   * forward. Returns a promise only when it must wait (fsync=always).
   */
  private flush(): Promise<void> | undefined {
    const durable = this.writer.commit();
    if (!durable) {
      this.forward();
      return undefined;
    }
    this.client.pause(); // fsync=always: hold the client until the events are on stable storage
    return durable.then(() => {
      if (!this.holding) this.client.resume();
      this.forward();
    });
  }

  private forward(): void {
    if (this.outbox.length === 0 || this.closed) return;
    const data = this.outbox.length === 1 ? this.outbox[0]! : Buffer.concat(this.outbox);
    this.outbox = [];
    if (!this.upstream.socket.write(data)) this.client.pause();
  }

  private async commit(): Promise<void> {
    await this.writer.commit();
  }

  private fromUpstream(chunk: Buffer): void {
    this.bytesOut.inc(chunk.length);
    let toClient: Buffer[];
    try {
      toClient = this.responses.push(chunk, this.onServerFrame);
      this.commitResults();
    } catch (err) {
      this.failClosed(err);
      return;
    }
    if (toClient.length && !this.client.write(toClient.length === 1 ? toClient[0]! : Buffer.concat(toClient))) {
      this.upstream.socket.pause();
    }
  }

  /**
   * Result events are not commands: nothing waits for them, so they ride along
   * with the next command's write (one write(2) per round trip instead of two),
   * or are written within RESULT_WRITE_DELAY_MS when the client goes quiet.
   * Either way they are on disk long before a human could ask for them, and a
   * crash loses at most that window of result events, never a command.
   */
  private commitResults(): void {
    if (this.resultTimerArmed || this.closed || this.writer.stagedBytes === 0) return;
    this.resultTimerArmed = true;
    if (this.resultTimer) this.resultTimer.refresh(); // one timer per session, re-armed: no allocation per result
    else this.resultTimer = setTimeout(() => this.writeResults(), RESULT_WRITE_DELAY_MS);
  }

  private writeResults(): void {
    this.resultTimerArmed = false;
    if (this.closed) return;
    try {
      this.writer.commit()?.catch((err: unknown) => this.failClosed(err));
    } catch (err) {
      this.failClosed(err);
    }
  }

  private record(type: string, data: Record<string, unknown>): number {
    return this.writer.append(type, data);
  }

  private failClosed(err: unknown): void {
    if (this.closed) return;
    const recording = err instanceof HopscopeError && err.code === 'RECORDING_UNAVAILABLE';
    this.deps.logger.error({ session: this.info.id, code: (err as HopscopeError).code, detail: (err as HopscopeError).detail ?? String(err) },
      recording ? 'recording failed: session closed' : 'session failed');
    const message = recording
      ? 'hopscope: the session cannot be recorded, so nothing more is forwarded'
      : `hopscope: ${(err as Error).message}`;
    this.client.write(backend.errorResponse({ severity: 'FATAL', code: recording ? '58030' : '08P01', message }));
    this.end(recording ? 'recording failed' : (err as Error).message);
  }

  private end(reason: string, cause?: TerminationReason['code']): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.resultTimer);
    this.holding?.abort();
    if (!this.upstream.socket.destroyed) this.upstream.socket.end(Buffer.from([0x58, 0, 0, 0, 4])); // Terminate
    this.client.end();
    setTimeout(() => { this.client.destroy(); this.upstream.socket.destroy(); }, 1000).unref();
    this.writer.close({ reason, ...(cause ? { cause } : {}), statementsInFlight: this.results.inFlight });
    this.onClosed?.();
  }
}

function renderParams(msg: BindMessage): unknown[] {
  const formatOf = (i: number) => (msg.paramFormats.length === 1 ? msg.paramFormats[0] : msg.paramFormats[i]) ?? 0;
  return msg.params.map((p, i) => {
    if (p === null) return null;
    if (formatOf(i) === 1) return { base64: p.toString('base64') };
    return p.length <= 4096 ? p.toString('utf8') : { cut: p.subarray(0, 4096).toString('utf8'), length: p.length };
  });
}
