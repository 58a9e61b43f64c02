import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Parser as BackendParser } from 'pg-protocol/dist/parser.js';
import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import { EventType } from '../../common/recording/index.js';
import type { GatewayMetrics } from '../admin/index.js';
import type { Logger } from '../log.js';
import type { RecordingWriter } from '../recording/index.js';
import type { LiveSession, SessionInfo, TerminationReason } from '../sessions.js';
import { serializeBackend as backend, FrontendParser, type BindMessage, type FrontendMessage } from './protocol/index.js';
import { ResultRecorder } from './results.js';
import { cancelUpstream, type Upstream } from './upstream.js';

export interface RelayDeps {
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
  maxRowsPerResult: number;
  upstreamAddress: { host: string; port: number };
}

/** The random key a client uses to cancel; it never learns the upstream's. */
export interface CancelKey { processId: number; secretKey: Buffer }

/**
 * The steady state of one PostgreSQL session: every client message is decoded,
 * recorded (write before forward), then forwarded unchanged; every server answer
 * is followed for the recording and relayed. Backpressure both ways keeps memory
 * bounded however large a result is.
 */
export class PgRelay implements LiveSession {
  readonly cancelKey: CancelKey = { processId: randomBytes(4).readUInt32BE() & 0x7fffffff, secretKey: randomBytes(4) };
  private readonly results: ResultRecorder;
  private readonly backendParser = new BackendParser();
  private readonly statements = new Map<string, string>(); // prepared statement name → SQL
  private readonly portals = new Map<string, { statement: string; params: unknown[] }>();
  private closed = false;
  private onClosed: (() => void) | undefined;

  constructor(
    readonly info: SessionInfo,
    private readonly client: Socket,
    private readonly clientParser: FrontendParser,
    private readonly upstream: Upstream,
    private readonly writer: RecordingWriter,
    private readonly deps: RelayDeps,
  ) {
    this.results = new ResultRecorder(writer, deps.maxRowsPerResult, () => deps.clock.nowMicros());
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
    up.on('data', (chunk: Buffer) => this.fromUpstream(chunk));
    this.client.on('drain', () => up.resume());
    up.on('drain', () => this.client.resume());
    this.client.on('close', () => this.end('client closed the connection'));
    up.on('close', () => this.end('the target closed the connection'));
    this.client.on('error', (err) => this.end(`client error: ${err.message}`));
    up.on('error', (err) => this.end(`target error: ${err.message}`));
  }

  /** Asks the upstream backend to cancel its current statement, and records that. */
  cancel(client: string): Promise<void> {
    this.record(EventType.PgCancel, { client });
    this.commitResults();
    return cancelUpstream(this.deps.upstreamAddress.host, this.deps.upstreamAddress.port, this.upstream.processId, this.upstream.secretKey);
  }

  /** Ends the session from the gateway's side (shutdown, revocation) with a FATAL error to the client. */
  terminate(reason: TerminationReason): void {
    if (this.closed) return;
    // 57P01 admin_shutdown for both: the client's session was ended by the gateway's operator.
    this.client.write(backend.errorResponse({ severity: 'FATAL', code: '57P01', message: `hopscope: ${reason.message}` }));
    this.end(reason.detail, reason.code);
  }

  private fromClient(chunk: Buffer): void {
    this.deps.metrics.bytesTotal.inc({ direction: 'client_to_target' }, chunk.length);
    const forward: Buffer[] = [];
    let terminate = false;
    let violation: string | undefined;
    try {
      this.clientParser.parse(chunk, (msg) => {
        if (msg.name === 'error') violation = msg.message;
        else if (msg.name === 'terminate') terminate = true;
        else if (this.admit(msg)) forward.push(msg.raw);
      });
      const durable = this.writer.commit();
      if (durable) {
        // fsync=always: hold the client until the events are on stable storage.
        this.client.pause();
        durable.then(() => {
          this.forwardToUpstream(forward);
          this.client.resume();
        }, (err: unknown) => this.failClosed(err));
      } else {
        this.forwardToUpstream(forward);
      }
    } catch (err) {
      this.failClosed(err);
      return;
    }
    if (violation) {
      this.client.write(backend.errorResponse({ severity: 'FATAL', code: '08P01', message: `protocol violation: ${violation}` }));
      this.end(`protocol violation: ${violation}`);
    } else if (terminate) {
      this.end('client terminated the session');
    }
  }

  /** Records what the client sends; returns whether to forward it. */
  private admit(msg: FrontendMessage): msg is Exclude<FrontendMessage, { name: 'error' }> {
    switch (msg.name) {
      case 'query':
        this.results.statementSent('query', this.record(EventType.PgQuery, { sql: msg.sql }));
        this.deps.metrics.statementsTotal.inc({ protocol: 'postgres' });
        return true;
      case 'parse':
        this.statements.set(msg.statement, msg.sql);
        return true;
      case 'bind':
        this.portals.set(msg.portal, { statement: msg.statement, params: renderParams(msg) });
        return true;
      case 'execute': {
        const portal = this.portals.get(msg.portal);
        const sql = portal ? this.statements.get(portal.statement) : undefined;
        const seq = this.record(EventType.PgExecute, {
          sql: sql ?? null,
          statement: portal?.statement ?? null,
          portal: msg.portal,
          params: portal?.params ?? [],
          ...(msg.maxRows > 0 ? { maxRows: msg.maxRows } : {}),
        });
        this.results.statementSent('execute', seq);
        this.deps.metrics.statementsTotal.inc({ protocol: 'postgres' });
        return true;
      }
      case 'sync':
        this.results.syncSent();
        return true;
      case 'close':
        if (msg.kind === 'S') this.statements.delete(msg.objectName);
        else this.portals.delete(msg.objectName);
        return true;
      case 'copyData':
        this.record(EventType.PgCopyData, { bytes: msg.data.length });
        return true;
      case 'describe': case 'flush': case 'copyDone': case 'copyFail':
        return true;
      case 'functionCall':
        // The fast-path interface calls functions by OID, out of reach of SQL guardrails: refused.
        this.record(EventType.PgError, { refused: true, code: '0A000', message: 'function call protocol is not allowed through the gateway' });
        this.client.write(Buffer.concat([
          backend.errorResponse({ severity: 'ERROR', code: '0A000', message: 'hopscope: the fast-path function call protocol is not allowed' }),
          backend.readyForQuery(this.results.transactionStatus as 'I' | 'T' | 'E'),
        ]));
        return false;
      default:
        // Startup-phase messages or an authentication response after startup.
        throw new HopscopeError('PROTOCOL_VIOLATION', `unexpected ${msg.name} message after startup`);
    }
  }

  private fromUpstream(chunk: Buffer): void {
    this.deps.metrics.bytesTotal.inc({ direction: 'target_to_client' }, chunk.length);
    try {
      // pg-protocol's Parser may later write into a chunk it was given (to join a split
      // message), and the original may still sit in the client socket's queue: give it a copy.
      this.backendParser.parse(Buffer.from(chunk), (msg) => this.results.onMessage(msg));
      this.commitResults();
    } catch (err) {
      this.failClosed(err);
      return;
    }
    if (!this.client.write(chunk)) this.upstream.socket.pause();
  }

  /** Results are written before they are relayed; their fsync (policy `always`) is not waited for. */
  private commitResults(): void {
    this.writer.commit()?.catch((err: unknown) => this.failClosed(err));
  }

  private forwardToUpstream(frames: Buffer[]): void {
    if (frames.length === 0 || this.closed) return;
    const data = frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    if (!this.upstream.socket.write(data)) this.client.pause();
  }

  private record(type: string, data: Record<string, unknown>): number {
    return this.writer.append(type, data);
  }

  private failClosed(err: unknown): void {
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
