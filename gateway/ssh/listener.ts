import { createServer, type Server } from 'node:net';
import ssh2 from 'ssh2';
import type { HopscopeError } from '../../common/errors.js';
import { EventType, type EndCause } from '../../common/recording/index.js';
import { issueToken } from '../../common/tokens/index.js';
import { admit, type Admitted, type AdmissionDeps } from '../admission.js';
import type { SshTargetConfig } from '../config.js';
import type { PolicyPipeline } from '../policy/types.js';
import { describeRevocation, revokedEnd, type Revocation } from '../policy/revocations.js';
import type { Refusal } from '../recording/index.js';
import { sendAuthBanner } from './banner.js';
import { loadOrCreateHostKey } from './hostkey.js';
import { SshSession } from './session.js';
import { connectSshUpstream, fingerprintOf, type SshUpstream } from './upstream.js';

export interface SshListenerDeps extends AdmissionDeps {
  policy: PolicyPipeline;
}

/** How long a client may take from connecting to being authenticated. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
const METHODS: ssh2.AuthenticationType[] = ['publickey', 'password', 'keyboard-interactive'];

/**
 * Accepts SSH clients as `<identity>:<target>@gateway`. Authentication is the
 * hopscope token (as password or keyboard-interactive answer) or a public key
 * registered for the identity; either goes through the one admission path, then
 * the gateway connects to the target's OpenSSH with its own key — all before
 * authentication succeeds, so a refusal (bad token, target down, changed host
 * key) is an authentication failure with the reason in a banner.
 */
export function createSshListener(deps: SshListenerDeps): Server {
  const ssh = new ssh2.Server({ hostKeys: [loadOrCreateHostKey(deps.config.keys.dir)], ident: 'hopscope' });
  const pending = new Set<SshHandshake>();
  ssh.on('connection', (conn, info) => new SshHandshake(conn, info, deps, pending).begin());
  const server = createServer({ noDelay: true }, (socket) => ssh.injectSocket(socket));
  // A client still in its handshake has no session to end: on close, cut it rather than wait for its timeout.
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const handshake of pending) handshake.abandon('the gateway is shutting down', 'gateway-shutdown');
    return close(cb);
  };
  return server;
}

/** `Password (hopscope token for alice): `, the identity reduced to printable ASCII (it is the client's own text, shown on its terminal). */
export function passwordPrompt(identity: string): string {
  return `Password (hopscope token for ${identity.replace(/[^\x20-\x7e]/g, '?').slice(0, 64)}): `;
}

class SshHandshake {
  private admitted: Admitted<SshTargetConfig> | undefined;
  private upstream: SshUpstream | undefined;
  private closed = false;
  private readonly client: { address: string; port: number };
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly conn: ssh2.Connection,
    private readonly info: ssh2.ClientInfo,
    private readonly deps: SshListenerDeps,
    private readonly pending: Set<SshHandshake>,
  ) {
    pending.add(this);
    this.client = { address: info.ip, port: info.port };
    this.timer = setTimeout(() => this.abandon('authentication took too long', 'timeout'), HANDSHAKE_TIMEOUT_MS);
    this.timer.unref();
  }

  begin(): void {
    this.conn.on('authentication', (ctx) => void this.authenticate(ctx).catch((err: Error) => {
      this.deps.logger.error({ err: err.message }, 'ssh authentication failed unexpectedly');
      ctx.reject([]);
    }));
    this.conn.once('ready', () => this.ready());
    this.conn.on('error', (err) => this.deps.logger.debug({ err: err.message, client: this.clientText }, 'ssh connection error'));
    this.conn.once('close', () => this.abandon('client left during the handshake', 'client-quit'));
  }

  private get clientText(): string {
    return `${this.client.address}:${this.client.port}`;
  }

  private async authenticate(ctx: ssh2.AuthContext): Promise<void> {
    const at = ctx.username.indexOf(':');
    const identity = at > 0 ? ctx.username.slice(0, at) : '';
    const target = at > 0 ? ctx.username.slice(at + 1) : '';
    if (!identity || !target) {
      if (ctx.method === 'none') return ctx.reject(METHODS);
      this.deps.metrics.refusalsTotal.inc({ reason: 'PROTOCOL_VIOLATION' });
      const message = `log in as '<identity>:<target>' (got '${ctx.username}')`;
      this.deps.audit.refused({ protocol: 'ssh', reason: 'PROTOCOL_VIOLATION', message, client: this.clientText });
      return this.refuse(ctx, message);
    }
    switch (ctx.method) {
      case 'password':
        return this.tryToken(ctx, identity, target, ctx.password, { auth: 'password' });
      case 'keyboard-interactive':
        // OpenSSH tries keyboard-interactive before password, and sshpass (so Ansible's password mode)
        // answers only a prompt containing "assword": the prompt says Password, and whose token it is.
        // No name or instruction: sshpass would count an "assword" there as a second prompt.
        return ctx.prompt([{ prompt: passwordPrompt(identity), echo: false }], '', '', (answers) =>
          void this.tryToken(ctx, identity, target, answers[0] ?? '', { auth: 'keyboard-interactive' }).catch(() => ctx.reject([])));
      case 'publickey':
        return this.publicKey(ctx, identity, target);
      default:
        return ctx.reject(METHODS);
    }
  }

  /** A key registered for the identity stands for its token: the gateway issues one, short-lived, for the admission path. */
  private async publicKey(ctx: ssh2.PublicKeyAuthContext, identity: string, target: string): Promise<void> {
    const registered = this.deps.config.identities.find((i) => i.name === identity)?.publicKeys ?? [];
    const key = registered.map((k) => ssh2.utils.parseKey(k)).find((k): k is ssh2.ParsedKey =>
      !(k instanceof Error) && k.type === ctx.key.algo.replace(/^rsa-sha2-(256|512)$/, 'ssh-rsa') && k.getPublicSSH().equals(ctx.key.data));
    if (!key) return ctx.reject(METHODS.filter((m) => m !== 'publickey'));
    if (!ctx.signature || !ctx.blob) return ctx.accept(); // the client asks whether this key would do: it would
    if (!key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) return ctx.reject(METHODS);
    const ttl = 60;
    const { token } = issueToken(this.deps.signer, this.deps.clock, { identity, ttlSeconds: ttl });
    return this.tryToken(ctx, identity, target, token, { auth: 'publickey', keyFingerprint: fingerprintOf(ctx.key.data) });
  }

  private async tryToken(ctx: ssh2.AuthContext, identity: string, target: string, token: string, details: Record<string, unknown>): Promise<void> {
    if (this.admitted || this.closed) return ctx.reject([]);
    let admitted: Admitted<SshTargetConfig>;
    try {
      admitted = await admit<SshTargetConfig>(this.deps, {
        protocol: 'ssh', identity, target, token, client: this.client,
        details: { ...details, clientSoftware: this.info.header.versions.software },
      }, 'ssh');
    } catch (err) {
      return this.refuse(ctx, (err as HopscopeError).message);
    }
    const { writer, info } = admitted;
    try {
      this.upstream = await connectSshUpstream(admitted.target);
    } catch (err) {
      const e = err as HopscopeError;
      const code = e.code ?? 'UPSTREAM_UNAVAILABLE';
      this.deps.logger.error({ session: info.id, target: info.target, code, detail: e.detail ?? e.message }, 'ssh upstream connection failed');
      try {
        writer.append(EventType.SshUpstream, { ok: false, code, message: e.message, detail: e.detail ?? null });
      } catch { /* the file keeps what it has */ }
      writer.close({ reason: `target unavailable: ${code}`, cause: 'target-unavailable' });
      this.deps.metrics.refusalsTotal.inc({ reason: code });
      this.deps.audit.refused({ protocol: 'ssh', reason: code, message: e.message, client: this.clientText, identity, target, tokenId: info.tokenId, detail: e.detail ?? e.message });
      return this.refuse(ctx, `${e.message} (target ${info.target})`);
    }
    if (this.closed) {
      this.upstream.client.end();
      writer.close({ reason: 'client left during the handshake', cause: 'client-quit' });
      return;
    }
    writer.append(EventType.SshUpstream, { ok: true, address: this.upstream.address, hostKey: this.upstream.hostKeyFingerprint });
    // A revocation that landed while the target was being reached found no session to cut: check again.
    const revoked = this.revokedSince(admitted);
    if (revoked) {
      this.upstream.client.end();
      this.upstream = undefined;
      return this.refuse(ctx, revoked);
    }
    this.admitted = admitted;
    ctx.accept();
  }

  private refuse(ctx: ssh2.AuthContext, message: string): void {
    if (!sendAuthBanner(this.conn, `hopscope: ${message}`)) this.deps.logger.warn('cannot send the refusal banner (ssh2 internals changed)');
    ctx.reject([]); // no method left: the client stops instead of asking again
  }

  private ready(): void {
    clearTimeout(this.timer);
    const { admitted, upstream } = this;
    if (!admitted || !upstream) return void this.conn.end();
    if (this.revokedSince(admitted)) return this.abandon('revoked during the handshake', 'revoked');
    this.pending.delete(this);
    const { info, writer, claims } = admitted;
    const session = new SshSession({ ...info, targetAddress: upstream.address }, this.conn, upstream, writer, claims, this.deps);
    this.closed = true; // the session owns the connection from here
    session.start();
  }

  /** The refusal message when the admitted token was revoked after admission (recorded in the session and the audit), else undefined. */
  private revokedSince(admitted: Admitted<SshTargetConfig>): string | undefined {
    const revocation = this.deps.revocations.revocationOf(admitted.claims);
    if (!revocation) return undefined;
    const message = `the token is revoked: ${describeRevocation(revocation)}`;
    const { info, writer } = admitted;
    writer.close({ reason: `revoked during the handshake: ${describeRevocation(revocation)}`, ...revokedEnd(revocation) });
    this.deps.metrics.refusalsTotal.inc({ reason: 'TOKEN_REVOKED' });
    const refusal: Refusal & { revocation: Revocation; session: string } = {
      protocol: 'ssh', reason: 'TOKEN_REVOKED', message, client: this.clientText, identity: info.identity, target: info.target,
      tokenId: info.tokenId, revocation, session: info.id,
    };
    this.deps.audit.refused(refusal);
    return message;
  }

  abandon(reason: string, cause: EndCause): void {
    this.pending.delete(this);
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.upstream?.client.end();
    this.admitted?.writer.close({ reason, cause });
    this.conn.end();
  }
}
