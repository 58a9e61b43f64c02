import ssh2 from 'ssh2';
import { HopscopeError } from '../../common/errors.js';
import { EventType, type EventMap, type EventName } from '../../common/recording/index.js';
import { issueToken, parseDuration, type TokenClaims } from '../../common/tokens/index.js';
import { PolicyLifecycle, type PolicyTrail } from '../policy/lifecycle.js';
import type { RecordingWriter } from '../recording/index.js';
import { terminationEnd, type LiveSession, type SessionInfo, type TerminationReason } from '../sessions.js';
import { SessionChannel } from './channel.js';
import type { ChannelContext } from './context.js';
import { DataRecorder } from './data.js';
import { handleForwarding } from './forwarding.js';
import type { SshListenerDeps } from './listener.js';
import { TargetFiles } from './target-files.js';
import type { SshUpstream } from './upstream.js';

/**
 * One authenticated SSH connection: a live session in the registry, its
 * recording, its connection to the target, and the hop token it offers the
 * target. Channels (exec, shell, sftp) are relayed by SessionChannel;
 * forwarding requests by handleForwarding.
 */
export class SshSession implements LiveSession {
  private readonly channels = new Set<SessionChannel>();
  private nextChannel = 0;
  private ended = false;
  private readonly context: ChannelContext;
  private readonly data: DataRecorder;
  private readonly files: TargetFiles;

  constructor(
    readonly info: SessionInfo,
    private readonly conn: ssh2.Connection,
    private readonly upstream: SshUpstream,
    private readonly writer: RecordingWriter,
    claims: TokenClaims,
    private readonly deps: SshListenerDeps,
  ) {
    const isLive = () => !this.ended;
    this.files = new TargetFiles(upstream.client);
    this.data = new DataRecorder(writer, deps.clock, (err) => !this.ended && this.failClosed(err));
    const uploads = new Map<string, string>();
    const policyContext = { session: info.id, identity: info.identity, target: info.target, protocol: 'ssh' as const, uploads };
    const scoped = deps.policy.maskerFor(policyContext);
    const trail: PolicyTrail = { append: (type, data) => this.stage(type, data), commit: () => this.commit() };
    this.context = {
      policyContext,
      policy: deps.policy,
      files: this.files,
      downloads: deps.config.shell.downloads ?? 'mask',
      uploads,
      textMask: scoped.active && deps.policy.masksText ? (text) => scoped.maskText(text) : undefined,
      upstream: upstream.client,
      writer,
      metrics: deps.metrics,
      logger: deps.logger,
      hopEnv: this.mintHopToken(claims),
      record: (type, data) => this.record(type, data),
      trail,
      lifecycle: new PolicyLifecycle(deps.policy, policyContext, trail, deps.metrics),
      data: (type, channel, stream, chunk, counts) => {
        if (!this.ended) this.data.push(type, channel, stream, chunk, counts);
      },
      flushData: () => {
        if (!this.ended) this.data.flush();
      },
      note: (type, data) => {
        try {
          this.record(type, data)?.catch(() => undefined);
        } catch { /* failed closed already */ }
      },
      get live() {
        return isLive();
      },
    };
  }

  start(): void {
    const { deps, info } = this;
    deps.registry.add(this);
    deps.metrics.sessionsTotal.inc({ protocol: 'ssh' });
    deps.metrics.sessionsActive.inc({ protocol: 'ssh' });
    deps.logger.info({ session: info.id, identity: info.identity, target: info.target, client: info.client, parent: info.parent }, 'ssh session started');
    this.conn.on('session', (accept) => {
      const channel = new SessionChannel(this.nextChannel++, accept(), this.context);
      this.channels.add(channel);
    });
    handleForwarding(this.conn, this.context, this.deps.config.targets.find((t) => t.name === info.target));
    this.conn.on('error', (err) => deps.logger.debug({ session: info.id, err: err.message }, 'ssh client error'));
    this.conn.on('close', () => this.end({ reason: 'client closed the connection', cause: 'client-quit' }));
    this.upstream.client.on('error', (err) => deps.logger.warn({ session: info.id, err: err.message }, 'ssh target error'));
    this.upstream.client.on('close', () => this.end({ reason: 'the target closed the connection', cause: 'target-closed' }));
  }

  /** Ends the session from the gateway's side; every open channel is told why on stderr. */
  terminate(reason: TerminationReason): void {
    if (this.ended) return;
    for (const channel of this.channels) channel.terminate(reason.message);
    this.end(terminationEnd(reason));
  }

  /** The hop token for what runs on the target: same identity, parent = this session, never outliving it. */
  private mintHopToken(claims: TokenClaims): Record<string, string> {
    const { deps, info } = this;
    const now = Math.floor(deps.clock.nowMicros() / 1e6);
    const ttl = Math.max(1, Math.min(claims.exp - now, parseDuration(deps.config.tokens.maxTtl)));
    const hop = issueToken(deps.signer, deps.clock, { identity: info.identity, ttlSeconds: ttl, kind: 'hop', parentSession: info.id, rootTokenId: info.rootTokenId });
    this.record(EventType.SshHop, { tokenId: hop.claims.jti, expiresAt: hop.claims.exp, offered: ['HOPSCOPE_TOKEN', 'HOPSCOPE_SESSION'] });
    return { HOPSCOPE_TOKEN: hop.token, HOPSCOPE_SESSION: info.id };
  }

  /** Stages and writes an event; on a recording failure the session fails closed and this throws. */
  private record<K extends EventName>(type: K, data: EventMap[K]): Promise<void> | undefined {
    this.stage(type, data);
    return this.commit();
  }

  /** Stages an event (after the data that came before it) and returns its seq; a failure fails the session closed. */
  private stage<K extends EventName>(type: K, data: EventMap[K]): number {
    if (this.ended) throw new HopscopeError('RECORDING_UNAVAILABLE', 'the session has ended');
    try {
      this.data.stage();
      return this.writer.append(type, data);
    } catch (err) {
      this.failClosed(err);
      throw err;
    }
  }

  /** Writes what was staged (write before forward); a failure fails the session closed, then rejects. */
  private commit(): Promise<void> | undefined {
    try {
      return this.writer.commit()?.catch((err: unknown) => {
        this.failClosed(err);
        throw err;
      });
    } catch (err) {
      this.failClosed(err);
      throw err;
    }
  }

  private failClosed(err: unknown): void {
    const e = err as HopscopeError;
    this.deps.logger.error({ session: this.info.id, code: e.code, detail: e.detail ?? String(err) }, 'recording failed: ssh session closed');
    for (const channel of this.channels) channel.terminate('the session cannot be recorded, so nothing more is forwarded');
    this.end({ reason: 'recording failed', cause: 'recording-failed' });
  }

  private end(end: EventMap['session.end']): void {
    if (this.ended) return;
    this.ended = true;
    const { deps, info } = this;
    this.files.end();
    this.upstream.client.end();
    this.data.close();
    // Let what was written to the client (a refusal, a revocation notice) leave before the connection goes.
    setTimeout(() => this.conn.end(), 50).unref();
    this.writer.close(end);
    deps.registry.remove(info.id);
    deps.metrics.sessionsActive.inc({ protocol: 'ssh' }, -1);
    deps.logger.info({ session: info.id, reason: end.reason, cause: end.cause }, 'ssh session ended');
  }
}
