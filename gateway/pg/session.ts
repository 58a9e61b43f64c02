import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import { EventType, type EventMap, type EventName } from '../../common/recording/index.js';
import type { GatewayMetrics } from '../admin/index.js';
import type { Logger } from '../log.js';
import type { TargetCatalog } from '../policy/catalog.js';
import type { PolicyContext, PolicyPipeline } from '../policy/index.js';
import { describeOutcome, PolicyLifecycle } from '../policy/lifecycle.js';
import type { RecordingWriter } from '../recording/index.js';
import { terminationEnd, type LiveSession, type SessionInfo, type TerminationReason } from '../sessions.js';
import { Admitter, type Admissible, type Held, type Outcome, type Statement } from './admit.js';
import type { ClientEncoding } from './encoding.js';
import { RowMasker } from './masking.js';
import { MessageMasker } from './message-masking.js';
import { serializeBackend as backend, type FrontendParser, type FrontendMessage } from './protocol/index.js';
import { readClient, type ClientReader } from './client-reader.js';
import { ResponseStream } from './responses.js';
import { ResultRecorder } from './results.js';
import { socketWriter, type SocketWriter } from './socket-writer.js';
import { cancelUpstream, type Upstream } from './upstream.js';

export interface RelayDeps {
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
  policy: PolicyPipeline;
  maxRowsPerResult: number;
  upstreamAddress: { host: string; port: number };
  /** The client_encoding the server reads this session's bytes in (from its ParameterStatus at startup). */
  encoding: ClientEncoding;
  /** The target's catalog, when this session's policy needs one (read before the session starts). */
  catalog: TargetCatalog | undefined;
}

/**
 * The key a client cancels with: the real backend's process id (what
 * pg_backend_pid() and notifications say) with a secret of the gateway's own;
 * the client never learns the upstream's secret.
 */
export interface CancelKey { processId: number; secretKey: Buffer }

const PARAMETER_STATUS = 0x53;

/**
 * The steady state of one PostgreSQL session. Client messages are decoded in the
 * server's client encoding, judged by the session's SQL policy, recorded and —
 * when allowed — forwarded (as the client sent them, or as the policy rewrote
 * them) after their events are written (write before forward). A blocked
 * statement is answered by the gateway; one under review is held until an
 * approver decides; one naming objects the catalog does not know waits for the
 * catalog to be read again. Server answers are framed, masked, recorded and
 * relayed in order with the gateway's own answers. Backpressure both ways bounds memory.
 */
export class PgRelay implements LiveSession {
  readonly cancelKey: CancelKey;
  private readonly ctx: PolicyContext;
  private readonly results: ResultRecorder;
  private readonly responses: ResponseStream;
  private readonly admitter: Admitter;
  private readonly lifecycle: PolicyLifecycle;
  private readonly onServerFrame: (tag: number, frame: Buffer) => void;
  private readonly bytesIn: { inc(by?: number): void };
  /** hopscope_statement_seconds{protocol="postgres"} and the statements forwarded during the chunk being handled. */
  private readonly statementLatency: { observe(seconds: number): void };
  private sentInChunk = 0;
  private readonly bytesOut: { inc(by?: number): void };
  private readonly inbox: Admissible[] = [];
  /** Pauses and resumes the client (its reads come through the shared buffer; see client-reader.ts). */
  private reader: ClientReader = { pause: () => this.client.pause(), resume: () => this.client.resume(), shared: false };
  /** The relayed bytes each way, written to the sockets' handles (see socket-writer.ts); the gateway's own answers use the streams. */
  private readonly toClient: SocketWriter;
  private readonly toUpstream: SocketWriter;
  private holding: AbortController | undefined;
  /** pumpSlowly is at work: later messages wait in the inbox, in order. */
  private busy = false;
  private closed = false;
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
    this.cancelKey = { processId: upstream.processId, secretKey: randomBytes(4) };
    // Their drain callbacks are what the sockets' 'drain' listeners in start() do, for the direct writes.
    this.toClient = socketWriter(client, () => upstream.socket.resume());
    this.toUpstream = socketWriter(upstream.socket, () => { if (!this.holding) this.reader.resume(); });
    clientParser.setSqlDecoder(deps.encoding.decode);
    this.ctx = { session: info.id, identity: info.identity, target: info.target, protocol: 'postgres' };
    const policy = deps.policy.sqlSession(this.ctx, deps.catalog);
    const masker = deps.policy.maskerFor(this.ctx);
    let take: () => ReturnType<RowMasker['take']> = () => [];
    if (masker.active) {
      const rows = new RowMasker({ masker, protectedColumn: (oid, attnum) => policy.protectedColumn(oid, attnum), masksText: deps.policy.masksText, encoding: deps.encoding });
      this.responses = new ResponseStream({ rows, messages: new MessageMasker(masker, deps.encoding, rows.counter) });
      take = () => rows.take();
    } else {
      this.responses = new ResponseStream(undefined);
    }
    this.results = new ResultRecorder(writer, deps.maxRowsPerResult, () => deps.clock.nowMicros(), take);
    this.onServerFrame = (tag, frame) => {
      if (tag === PARAMETER_STATUS) this.parameterChanged(frame);
      this.results.onFrame(tag, frame);
    };
    this.bytesIn = deps.metrics.bytesTotal.series({ direction: 'client_to_target' });
    this.bytesOut = deps.metrics.bytesTotal.series({ direction: 'target_to_client' });
    const statementsSent = deps.metrics.statementsTotal.series({ protocol: 'postgres' });
    this.statementLatency = deps.metrics.statementSeconds.series({ protocol: 'postgres' });
    this.lifecycle = new PolicyLifecycle(deps.policy, this.ctx, writer, deps.metrics);
    this.admitter = new Admitter({
      writer, responses: this.responses, results: this.results, policy, encoding: deps.encoding, masking: masker.active,
      statementSent: () => {
        statementsSent.inc();
        this.sentInChunk++;
      },
      refused: (seq, verdict) => this.lifecycle.refused(seq, verdict),
    });
  }

  /** Sends the client what it expects after authentication, then relays until either side ends. */
  start(onClosed: () => void): void {
    this.onClosed = onClosed;
    // The server's parameters as it sent them (their values in the client's encoding), and its real process id.
    const hello: Buffer[] = [backend.authenticationOk(), ...this.upstream.parameterFrames];
    hello.push(backend.backendKeyData(this.cancelKey.processId, this.cancelKey.secretKey), backend.readyForQuery('I'));
    this.client.write(Buffer.concat(hello));

    const up = this.upstream.socket;
    this.upstream.onData((chunk) => this.fromUpstream(chunk));
    this.client.on('drain', () => up.resume());
    up.on('drain', () => { if (!this.holding) this.reader.resume(); });
    this.client.on('close', () => this.end({ reason: 'client closed the connection', cause: 'client-quit' }));
    up.on('close', () => this.end({ reason: 'the target closed the connection', cause: 'target-closed' }));
    this.client.on('error', (err) => this.end({ reason: `client error: ${err.message}`, cause: 'client-error' }));
    up.on('error', (err) => this.end({ reason: `target error: ${err.message}`, cause: 'target-error' }));
    // Into one shared buffer, not through the stream machinery (a plain TCP client; TLS keeps 'data' events).
    this.reader = readClient(this.client, (chunk) => this.fromClient(chunk));
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
    this.end(terminationEnd(reason));
  }

  private fromClient(chunk: Buffer): void {
    const arrived = performance.now();
    this.sentInChunk = 0;
    this.bytesIn.inc(chunk.length);
    this.violation = undefined;
    this.clientParser.parse(chunk, this.onClientMessage);
    const violation = this.violation;
    this.violation = undefined;
    const pumped = this.pump();
    // What the gateway added to the statements this chunk carried, up to their forward (a wait for an fsync, a catalog
    // read or an approver included: the client is paused meanwhile, so no other chunk counts in between).
    if (!pumped) {
      this.observeLatency(arrived);
      this.violated(violation);
    } else {
      void pumped.then(() => {
        this.observeLatency(arrived);
        this.violated(violation);
      });
    }
  }

  private observeLatency(arrived: number): void {
    if (this.sentInChunk > 0) this.statementLatency.observe((performance.now() - arrived) / 1000);
  }

  private violated(violation: string | undefined): void {
    if (!violation) return;
    this.client.write(backend.errorResponse({ severity: 'FATAL', code: '08P01', message: `protocol violation: ${violation}` }));
    this.end({ reason: `protocol violation: ${violation}`, cause: 'protocol-violation' });
  }

  /**
   * Works through the client's messages in order. The common case (no approval
   * or catalog read to wait for, no fsync to wait for) runs synchronously: one
   * recording write and one upstream write per chunk, no promise. Otherwise it
   * goes on in `pumpSlowly`.
   */
  private pump(): Promise<void> | undefined {
    if (this.holding || this.busy || this.closed) return undefined;
    try {
      while (this.inbox.length && !this.closed) {
        if (this.inbox[0]!.name === 'terminate') return this.pumpSlowly(undefined);
        const outcome = this.admitter.admit(this.inbox.shift()!);
        if (outcome) return this.pumpSlowly(outcome);
      }
      return this.flush()?.catch((err: unknown) => this.failClosed(err));
    } catch (err) {
      this.failClosed(err);
      return undefined;
    }
  }

  /** The rest of `pump` when something must be waited for; the client is paused while it waits. */
  private async pumpSlowly(first: Outcome): Promise<void> {
    this.busy = true;
    try {
      let outcome = first;
      for (;;) {
        if (outcome) await this.waitFor(outcome);
        outcome = undefined;
        if (!this.inbox.length || this.closed) break;
        const msg = this.inbox.shift()!;
        if (msg.name === 'terminate') {
          await this.flush();
          return this.end({ reason: 'client terminated the session', cause: 'client-quit' });
        }
        outcome = this.admitter.admit(msg);
      }
      await this.flush();
    } catch (err) {
      this.failClosed(err);
    } finally {
      this.busy = false;
    }
    if (this.inbox.length && !this.closed) await this.pump(); // what came while it waited
  }

  private async waitFor(outcome: NonNullable<Outcome>): Promise<void> {
    await this.flush();
    if ('hold' in outcome) return this.hold(outcome.hold);
    if ('settle' in outcome) {
      // A text that reads otherwise under other settings, pipelined: judged once the server has answered (and
      // reported any setting changed by) everything before it. The statements in flight need nothing more from the client.
      this.reader.pause();
      await this.results.whenIdle();
      if (this.closed) return;
      this.reader.resume();
      const again = this.admitter.admit(outcome.settle, false, true);
      if (again) await this.waitFor(again);
      return;
    }
    const again = await this.refreshed(outcome.refresh);
    if (again) await this.waitFor(again);
  }

  /** A statement naming objects the catalog snapshot does not know: the catalog is read again, then it is judged again. */
  private async refreshed(msg: Statement): Promise<Outcome> {
    this.reader.pause();
    try {
      await this.deps.catalog?.refresh();
    } catch (err) {
      // Judged again all the same: a name still unknown is refused (fail closed).
      this.deps.logger.warn({ session: this.info.id, detail: (err as Error).message }, 'target catalog refresh failed');
    } finally {
      if (!this.closed) this.reader.resume();
    }
    if (this.closed) return undefined;
    const outcome = this.admitter.admit(msg, true);
    if (outcome && 'refresh' in outcome) throw new HopscopeError('POLICY_BLOCKED', 'the SQL policy asked for a catalog read twice');
    return outcome;
  }

  /** Holds a statement for an approver (the shared policy lifecycle records and counts each step); the client waits and may cancel. */
  private async hold(held: Held): Promise<void> {
    const { seq, verdict, msg } = held;
    const controller = new AbortController();
    this.holding = controller;
    this.reader.pause();
    const result = await this.lifecycle.review(seq, msg.sql, verdict, controller.signal, (message) => {
      this.client.write(backend.noticeResponse({ severity: 'NOTICE', code: '01000', message: `hopscope: ${message}` }));
    });
    this.holding = undefined;
    if (this.closed) return;
    if (result.decision === 'approved') {
      this.admitter.approved(held);
    } else {
      const cancelled = result.decision === 'cancelled';
      this.admitter.refuseHeld(held, cancelled ? '57014' : '42501',
        cancelled ? 'canceling statement due to user request (it was held for approval)' : `hopscope: ${describeOutcome(result, verdict.rule)}`);
    }
    this.reader.resume();
  }

  /**
   * The server reported a parameter change. A client_encoding other than the one
   * the session started with means the gateway would from now on decode the
   * client's bytes otherwise than the server: the session ends (guardrails refuse
   * the statements that change it; this is the fail-safe behind them).
   */
  private parameterChanged(frame: Buffer): void {
    const nul = frame.indexOf(0, 5);
    const name = frame.toString('latin1', 5, nul);
    const value = frame.toString('latin1', nul + 1, frame.length - 1);
    if (name === 'standard_conforming_strings' && value !== 'on') {
      throw new HopscopeError('PROTOCOL_VIOLATION',
        'the server turned standard_conforming_strings off during the session; the gateway judges statements as parsed with it on, so the session is ended');
    }
    if (name !== 'client_encoding') return;
    if (value.toUpperCase() === this.deps.encoding.name) return;
    throw new HopscopeError('PROTOCOL_VIOLATION',
      `the server's client_encoding changed from ${this.deps.encoding.name} to ${value} during the session; the gateway judges statements in the encoding the session started with, so the session is ended`);
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
    this.reader.pause(); // fsync=always: hold the client until the events are on stable storage
    return durable.then(() => {
      if (!this.holding) this.reader.resume();
      this.forward();
    });
  }

  private forward(): void {
    const outbox = this.admitter.outbox;
    if (outbox.length === 0 || this.closed) return;
    const data = outbox.length === 1 ? outbox[0]! : Buffer.concat(outbox);
    this.admitter.outbox = [];
    if (!this.toUpstream.write(data)) this.reader.pause();
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
    if (toClient.length && !this.toClient.write(toClient.length === 1 ? toClient[0]! : Buffer.concat(toClient))) {
      this.upstream.socket.pause();
    }
  }

  /**
   * Result events are not commands: nothing waits for them, so they ride along
   * with the next command's write (one write(2) per round trip instead of two),
   * or are written within COMMIT_SOON_MS when the client goes quiet (one
   * gateway-wide timer, gateway/recording/writer.ts). Either way they are on disk
   * long before a human could ask for them, and a crash loses at most that window
   * of result events, never a command. A failed write refuses the session's next
   * event: it fails closed then.
   */
  private commitResults(): void {
    if (!this.closed) this.writer.commitSoon();
  }

  private record<K extends EventName>(type: K, data: EventMap[K]): number {
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
    this.end(recording ? { reason: 'recording failed', cause: 'recording-failed' } : { reason: (err as Error).message, cause: 'session-error' });
  }

  /** Ends the session and seals its recording with why (`session.end`: reason and cause, and for a revocation who revoked). */
  private end(end: Omit<EventMap['session.end'], 'statementsInFlight'>): void {
    if (this.closed) return;
    this.closed = true;
    this.holding?.abort();
    this.results.release();
    if (!this.upstream.socket.destroyed) this.upstream.socket.end(Buffer.from([0x58, 0, 0, 0, 4])); // Terminate
    this.client.end();
    setTimeout(() => { this.client.destroy(); this.upstream.socket.destroy(); }, 1000).unref();
    this.writer.close({ ...end, statementsInFlight: this.results.inFlight });
    this.onClosed?.();
  }
}
