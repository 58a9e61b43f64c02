import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Clock } from '../../common/clock.js';
import { HopscopeError, isHopscopeError } from '../../common/errors.js';
import type { TrustedKeys } from '../../common/keys.js';
import { EventType } from '../../common/recording/index.js';
import { verifyToken, type TokenClaims } from '../../common/tokens/index.js';
import type { GatewayMetrics } from '../admin/index.js';
import { readSecret, type LoadedConfig, type PostgresTargetConfig } from '../config.js';
import type { Logger } from '../log.js';
import { newSessionId, RecordingWriter, type AuditLog } from '../recording/index.js';
import { serializeBackend as backend, FrontendParser, readPassword, type CancelRequestMessage, type StartupMessage } from './protocol/index.js';
import { PgRelay } from './session.js';
import { connectUpstream } from './upstream.js';

export interface PgListenerDeps {
  config: LoadedConfig;
  trusted: TrustedKeys;
  signer: import('../../common/keys.js').Signer;
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
  audit: AuditLog;
  tls: SecureContext | undefined;
  sessions: Map<string, PgRelay>;
}

/** How long a client may take from connecting to sending its password. */
const STARTUP_TIMEOUT_MS = 30_000;

/**
 * Accepts PostgreSQL clients. Startup: optional TLS, StartupMessage, cleartext
 * password request (the password is the hopscope token, protected by TLS when
 * configured), token and policy checks, a durable session-start event, then the
 * upstream connection with the gateway's own credentials. Nothing reaches the
 * target before all of that succeeded.
 */
export function createPgListener(deps: PgListenerDeps): Server {
  const cancelKeys = new Map<string, PgRelay>();
  const server = createServer({ noDelay: true }, (socket) => {
    new PgStartup(socket, deps, cancelKeys).begin();
  });
  return server;
}

class PgStartup {
  private readonly parser = new FrontendParser();
  private socket: Socket;
  private startup: StartupMessage | undefined;
  private readonly client: string;
  private done = false;
  private readonly timer: NodeJS.Timeout;

  constructor(socket: Socket, private readonly deps: PgListenerDeps, private readonly cancelKeys: Map<string, PgRelay>) {
    this.socket = socket;
    this.client = `${socket.remoteAddress}:${socket.remotePort}`;
    this.timer = setTimeout(() => this.refuse('PROTOCOL_VIOLATION', '08P01', 'startup took too long'), STARTUP_TIMEOUT_MS);
    this.timer.unref();
  }

  begin(): void {
    this.listen(this.socket);
  }

  private listen(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', () => this.finish());
    socket.on('close', () => this.finish());
  }

  private readonly onData = (chunk: Buffer): void => {
    this.parser.parse(chunk, (msg) => {
      if (this.done) return;
      switch (msg.name) {
        case 'sslRequest':
          return this.startTls();
        case 'gssEncRequest':
          this.socket.write(backend.sslRejected()); // 'N': no GSS encryption
          return;
        case 'cancelRequest':
          return this.cancel(msg);
        case 'startupMessage':
          return this.onStartup(msg);
        case 'authResponse':
          return void this.onPassword(readPassword(msg.body));
        case 'error':
          return this.refuse('PROTOCOL_VIOLATION', '08P01', `protocol violation: ${msg.message}`);
        default:
          return this.refuse('PROTOCOL_VIOLATION', '08P01', `unexpected ${msg.name} message during startup`);
      }
    });
  };

  private startTls(): void {
    if (!this.deps.tls || this.socket instanceof TLSSocket) {
      this.socket.write(backend.sslRejected());
      return;
    }
    this.socket.removeListener('data', this.onData);
    this.socket.write(backend.sslAccepted());
    const tls = new TLSSocket(this.socket, { isServer: true, secureContext: this.deps.tls });
    this.socket = tls;
    this.listen(tls);
  }

  private cancel(msg: CancelRequestMessage): void {
    const relay = this.cancelKeys.get(cancelKeyOf(msg.processID, msg.secretKey));
    if (relay) void relay.cancel(this.client);
    else this.deps.metrics.refusalsTotal.inc({ reason: 'CANCEL_UNKNOWN' });
    this.done = true;
    this.socket.end();
  }

  private onStartup(msg: StartupMessage): void {
    if (msg.majorVersion !== 3) return this.refuse('PROTOCOL_VIOLATION', '0A000', `unsupported frontend protocol ${msg.majorVersion}.${msg.minorVersion}`);
    if (this.deps.config.tls?.require && !(this.socket instanceof TLSSocket)) {
      return this.refuse('PROTOCOL_VIOLATION', '28000', 'hopscope requires TLS on this listener (use sslmode=require)');
    }
    this.startup = msg;
    const unknownOptions = Object.keys(msg.parameters).filter((k) => k.startsWith('_pq_.'));
    if (msg.minorVersion > 0 || unknownOptions.length) {
      this.socket.write(backend.negotiateProtocolVersion(0, unknownOptions));
    }
    this.parser.startupDone();
    this.socket.write(backend.authenticationCleartextPassword());
  }

  private async onPassword(token: string): Promise<void> {
    const params = this.startup?.parameters ?? {};
    const identity = params.user ?? '';
    const targetName = params.database ?? identity;
    this.socket.pause();
    let claims: TokenClaims | undefined;
    let target: PostgresTargetConfig;
    try {
      claims = verifyToken(token, this.deps.trusted, this.deps.clock, identity);
      target = this.authorize(identity, targetName);
    } catch (err) {
      const e = err as HopscopeError;
      const sqlState = e.code?.startsWith('TOKEN_') ? '28P01' : '28000';
      return this.refuse(e.code ?? 'PROTOCOL_VIOLATION', sqlState, `hopscope: ${e.message}`, { identity, target: targetName, tokenId: claims?.jti, detail: e.detail });
    }
    const id = newSessionId(this.deps.clock);
    let writer: RecordingWriter;
    try {
      writer = RecordingWriter.open({
        dir: this.deps.config.recording.dir,
        session: id,
        protocol: 'postgres',
        signer: this.deps.signer,
        clock: this.deps.clock,
        fsync: this.deps.config.recording.fsync,
        checkpointEvery: this.deps.config.recording.checkpointEvery,
        onCommit: (seconds, bytes) => {
          this.deps.metrics.recordingSeconds.observe(seconds);
          this.deps.metrics.recordingBytes.inc({}, bytes);
        },
      });
      writer.append(EventType.SessionStart, {
        identity, tokenId: claims.jti, tokenKind: claims.kind, target: target.name, protocol: 'postgres',
        client: this.client, tls: this.socket instanceof TLSSocket,
        ...(claims.parent ? { parent: claims.parent, linkKind: 'hop-token' } : {}),
        params: clientParams(params),
      });
      await writer.commit();
    } catch (err) {
      return this.refuse('RECORDING_UNAVAILABLE', '58030', 'hopscope: the session cannot be recorded, so it is refused',
        { identity, target: target.name, tokenId: claims.jti, detail: (err as HopscopeError).detail });
    }
    try {
      const upstream = await connectUpstream({
        host: target.host, port: target.port, user: target.user, database: target.database,
        password: target.password && readSecret(target.password, `target ${target.name} password`),
        params: clientParams(params),
      });
      if (this.done) { // the client left while we were connecting
        upstream.socket.destroy();
        writer.close({ reason: 'client left during startup' });
        return;
      }
      this.handOver(id, identity, target, claims, writer, upstream);
    } catch (err) {
      const e = err as HopscopeError;
      this.deps.logger.error({ session: id, target: target.name, code: e.code, detail: e.detail ?? e.message }, 'upstream connection failed');
      try {
        writer.append(EventType.PgError, { severity: 'FATAL', code: '08001', message: e.message, reason: e.code });
      } catch { /* the file keeps what it has */ }
      writer.close({ reason: `target unavailable: ${e.code ?? 'error'}` });
      this.refuse(e.code ?? 'UPSTREAM_UNAVAILABLE', '08001', `hopscope: ${e.message} (target ${target.name})`, { identity, target: target.name, tokenId: claims.jti });
    }
  }

  private authorize(identity: string, targetName: string): PostgresTargetConfig {
    const who = this.deps.config.identities.find((i) => i.name === identity);
    if (!who) throw new HopscopeError('IDENTITY_UNKNOWN', `unknown identity ${identity}`);
    const target = this.deps.config.targets.find((t) => t.name === targetName);
    if (!target || target.type !== 'postgres') throw new HopscopeError('TARGET_UNKNOWN', `unknown PostgreSQL target ${targetName}`);
    if (!who.targets.includes(target.name)) throw new HopscopeError('TARGET_NOT_ALLOWED', `identity ${identity} may not reach target ${target.name}`);
    return target;
  }

  private handOver(id: string, identity: string, target: PostgresTargetConfig, claims: TokenClaims,
    writer: RecordingWriter, upstream: Awaited<ReturnType<typeof connectUpstream>>): void {
    this.done = true;
    clearTimeout(this.timer);
    this.socket.removeListener('data', this.onData);
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    const relay = new PgRelay(
      { id, identity, target: target.name, client: this.client, parent: claims.parent, startedMicros: this.deps.clock.nowMicros() },
      this.socket, this.parser, upstream, writer,
      { clock: this.deps.clock, metrics: this.deps.metrics, logger: this.deps.logger,
        maxRowsPerResult: this.deps.config.recording.maxRowsPerResult, upstreamAddress: { host: target.host, port: target.port } },
    );
    const key = cancelKeyOf(relay.cancelKey.processId, relay.cancelKey.secretKey);
    this.deps.sessions.set(id, relay);
    this.cancelKeys.set(key, relay);
    this.deps.metrics.sessionsTotal.inc({ protocol: 'postgres' });
    this.deps.metrics.sessionsActive.inc({ protocol: 'postgres' });
    this.deps.logger.info({ session: id, identity, target: target.name, client: this.client }, 'session started');
    relay.start(() => {
      this.deps.sessions.delete(id);
      this.cancelKeys.delete(key);
      this.deps.metrics.sessionsActive.inc({ protocol: 'postgres' }, -1);
      this.deps.logger.info({ session: id }, 'session ended');
    });
    this.socket.resume();
  }

  private refuse(reason: string, sqlState: string, message: string, extra: { identity?: string; target?: string; tokenId?: string | undefined; detail?: string | undefined } = {}): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.deps.metrics.refusalsTotal.inc({ reason });
    this.deps.audit.refused({
      protocol: 'postgres', reason, message, client: this.client,
      ...(extra.identity ? { identity: extra.identity } : {}),
      ...(extra.target ? { target: extra.target } : {}),
      ...(extra.tokenId ? { tokenId: extra.tokenId } : {}),
      ...(extra.detail ? { detail: extra.detail } : {}),
    });
    this.socket.end(backend.errorResponse({ severity: 'FATAL', code: sqlState, message }));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
  }
}

export function cancelKeyOf(processId: number, secretKey: Buffer): string {
  return `${processId}:${secretKey.toString('hex')}`;
}

/** Startup parameters worth recording and passing on; never user, database or protocol options. */
function clientParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k !== 'user' && k !== 'database' && !k.startsWith('_pq_.')) out[k] = v;
  }
  return out;
}
