import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { ErrorCode, HopscopeError } from '../../common/errors.js';
import { EventType, type EventMap } from '../../common/recording/index.js';
import { admit, type Admitted, type AdmissionDeps } from '../admission.js';
import { describeRevocation, revokedEnd, type Revocation } from '../policy/revocations.js';
import type { Refusal } from '../recording/index.js';
import { readSecret, type PostgresTargetConfig } from '../config.js';
import type { RecordingWriter } from '../recording/index.js';
import type { PolicyPipeline } from '../policy/index.js';
import type { SessionInfo } from '../sessions.js';
import { serializeBackend as backend, FrontendParser, readPassword, type CancelRequestMessage, type StartupMessage } from './protocol/index.js';
import type { TargetCatalog } from '../policy/catalog.js';
import { catalogFor } from './catalog.js';
import { clientEncodingFor, type ClientEncoding } from './encoding.js';
import { PgRelay } from './session.js';
import { connectUpstream, type Upstream } from './upstream.js';

export interface PgListenerDeps extends AdmissionDeps {
  tls: SecureContext | undefined;
  policy: PolicyPipeline;
}

/** The startup-packet length a Terminate message ('X', 0, 0, 0, 4) reads as. */
const TERMINATE_AS_STARTUP_LENGTH = 0x58000000;

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
    try {
      this.parse(chunk);
    } catch (err) {
      // A malformed message that the frame decoder let through (e.g. a password
      // without its terminator): this client is refused; nothing escapes to the process.
      this.refuse('PROTOCOL_VIOLATION', '08P01', `protocol violation: ${(err as Error).message}`);
    }
  };

  private parse(chunk: Buffer): void {
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
          // A Terminate ('X', length 4) where the first startup packet should be reads as a
          // length of 0x58000000: node-postgres sends it on connect(); end(), and PostgreSQL
          // closes such a connection without a word (it only logs it). So does the gateway;
          // other garbage still gets an ErrorResponse, which helps a human who typed the wrong port.
          return this.refuse('PROTOCOL_VIOLATION', '08P01', `protocol violation: ${msg.message}`,
            !this.startup && msg.length === TERMINATE_AS_STARTUP_LENGTH);
        default:
          return this.refuse('PROTOCOL_VIOLATION', '08P01', `unexpected ${msg.name} message during startup`);
      }
    });
  }

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
    this.socket.pause();
    let admitted: Admitted<PostgresTargetConfig>;
    try {
      admitted = await admit<PostgresTargetConfig>(this.deps, {
        protocol: 'postgres',
        identity: params.user ?? '',
        target: params.database ?? params.user ?? '',
        token,
        client: { address: this.socket.remoteAddress ?? '', port: this.socket.remotePort ?? 0 },
        details: { tls: this.socket instanceof TLSSocket, params: clientParams(params) },
      }, 'postgres');
    } catch (err) {
      const e = err as HopscopeError;
      const sqlState = e.code === 'RECORDING_UNAVAILABLE' ? '58030' : e.code?.startsWith('TOKEN_') ? '28P01' : '28000';
      return this.hangUp(sqlState, `hopscope: ${e.message}`);
    }
    const { target, writer, info } = admitted;
    const catalog = await this.catalogOf(info, target, writer);
    if (catalog === null) return;
    try {
      const upstream = await connectUpstream({
        host: target.host, port: target.port, user: target.user, database: target.database,
        password: target.password && readSecret(target.password, `target ${target.name} password`),
        clientStartup: this.startup?.raw,
      });
      if (this.done) { // the client left while we were connecting
        upstream.socket.destroy();
        writer.close({ reason: 'client left during startup', cause: 'client-quit' });
        return;
      }
      // A revocation that landed while the gateway connected: nothing is handed over (the audit says why).
      const revocation = this.deps.revocations.revocationOf(admitted.claims);
      if (revocation) {
        upstream.socket.destroy();
        const message = `the token is revoked: ${describeRevocation(revocation)}`;
        const refusal: Refusal & { revocation: Revocation; session: string } = {
          protocol: 'postgres', reason: 'TOKEN_REVOKED', message, client: this.client, identity: info.identity, target: info.target,
          tokenId: info.tokenId, revocation, session: info.id,
        };
        this.deps.audit.refused(refusal);
        return this.refuseSession(writer, 'TOKEN_REVOKED', '28P01', message, revokedEnd(revocation));
      }
      // The parser reads string literals as standard_conforming_strings=on does; a session where the server
      // reads backslashes otherwise would run a text other than the one judged.
      const conforming = upstream.parameters.findLast(([name]) => name === 'standard_conforming_strings')?.[1];
      if (conforming !== undefined && conforming !== 'on') {
        upstream.socket.destroy();
        return this.refuseSession(writer, 'UNSUPPORTED_PARAMETER', '22023',
          'standard_conforming_strings must be on through the gateway (it judges statements as the server parses them with it on)');
      }
      const encodingName = upstream.parameters.findLast(([name]) => name === 'client_encoding')?.[1] ?? 'UTF8';
      const encoding = clientEncodingFor(encodingName, upstream.parameters.findLast(([name]) => name === 'server_encoding')?.[1]);
      if ('error' in encoding) {
        upstream.socket.destroy();
        return this.refuseSession(writer, 'UNSUPPORTED_ENCODING', '22023', encoding.error);
      }
      this.handOver(info, target, writer, upstream, encoding, catalog);
    } catch (err) {
      const e = err as HopscopeError;
      this.deps.logger.error({ session: info.id, target: target.name, code: e.code, detail: e.detail ?? e.message }, 'upstream connection failed');
      try {
        writer.append(EventType.PgError, { severity: 'FATAL', code: '08001', message: e.message, reason: e.code });
      } catch { /* the file keeps what it has */ }
      writer.close({ reason: `target unavailable: ${e.code ?? 'error'}`, cause: 'target-unavailable' });
      this.deps.metrics.refusalsTotal.inc({ reason: e.code ?? 'UPSTREAM_UNAVAILABLE' });
      this.hangUp('08001', `hopscope: ${e.message} (target ${target.name})`);
    }
  }

  /**
   * The target's catalog when this session's policy needs one (column masking by
   * provenance), read before the session starts; null when it cannot be read:
   * the session is refused, since masking could not be enforced.
   */
  private async catalogOf(info: SessionInfo, target: PostgresTargetConfig, writer: RecordingWriter): Promise<TargetCatalog | undefined | null> {
    if (!this.deps.policy.needsCatalog({ identity: info.identity, target: info.target })) return undefined;
    const catalog = catalogFor(target);
    if (catalog.snapshot !== undefined) return catalog;
    try {
      await catalog.refresh();
      return catalog;
    } catch (err) {
      this.deps.logger.error({ session: info.id, target: target.name, detail: (err as Error).message }, 'target catalog unreadable');
      this.refuseSession(writer, 'CATALOG_UNAVAILABLE', '58000',
        `the catalog of target ${target.name} cannot be read, so column masking cannot be enforced: ${(err as Error).message}`);
      return null;
    }
  }

  /** Refuses a session already admitted (its recording open): recorded, counted, told to the client. */
  private refuseSession(writer: RecordingWriter, reason: string, sqlState: string, message: string,
    end: Omit<EventMap['session.end'], 'reason'> = { cause: 'refused' }): void {
    try {
      writer.append(EventType.PgError, { severity: 'FATAL', code: sqlState, message, reason });
    } catch { /* the file keeps what it has */ }
    writer.close({ reason: `refused: ${message}`, ...end });
    this.deps.metrics.refusalsTotal.inc({ reason });
    this.hangUp(sqlState, `hopscope: ${message}`);
  }

  private handOver(info: SessionInfo, target: PostgresTargetConfig, writer: RecordingWriter, upstream: Upstream,
    encoding: ClientEncoding, catalog: TargetCatalog | undefined): void {
    this.done = true;
    clearTimeout(this.timer);
    this.socket.removeListener('data', this.onData);
    this.socket.removeAllListeners('close');
    this.socket.removeAllListeners('error');
    const relay = new PgRelay(info, this.socket, this.parser, upstream, writer, {
      clock: this.deps.clock, metrics: this.deps.metrics, logger: this.deps.logger, policy: this.deps.policy,
      maxRowsPerResult: this.deps.config.recording.maxRowsPerResult, upstreamAddress: { host: target.host, port: target.port },
      encoding, catalog,
    });
    const key = cancelKeyOf(relay.cancelKey.processId, relay.cancelKey.secretKey);
    this.deps.registry.add(relay);
    this.cancelKeys.set(key, relay);
    this.deps.metrics.sessionsTotal.inc({ protocol: 'postgres' });
    this.deps.metrics.sessionsActive.inc({ protocol: 'postgres' });
    this.deps.logger.info({ session: info.id, identity: info.identity, target: target.name, client: this.client }, 'session started');
    relay.start(() => {
      this.deps.registry.remove(info.id);
      this.cancelKeys.delete(key);
      this.deps.metrics.sessionsActive.inc({ protocol: 'postgres' }, -1);
      this.deps.logger.info({ session: info.id }, 'session ended');
    });
    this.socket.resume();
  }

  /**
   * A refusal during startup, before any session exists: counted, recorded in the
   * audit log, told to the client (unless `silent`: closed as PostgreSQL closes it).
   */
  private refuse(reason: ErrorCode, sqlState: string, message: string, silent = false): void {
    if (this.done) return;
    this.deps.metrics.refusalsTotal.inc({ reason });
    this.deps.audit.refused({ protocol: 'postgres', reason, message, client: this.client });
    if (!silent) return this.hangUp(sqlState, message);
    this.done = true;
    clearTimeout(this.timer);
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private hangUp(sqlState: string, message: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
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
