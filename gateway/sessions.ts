import type { EventMap } from '../common/recording/index.js';

/**
 * Every live session of every protocol, for the admin API, revocation and
 * lineage. A protocol adapter adds its session once it is recorded and
 * connected, and removes it when it ends.
 */
export interface SessionInfo {
  id: string;
  protocol: 'postgres' | 'ssh';
  identity: string;
  target: string;
  /** host:port of the client, as seen by the gateway. */
  client: string;
  /** The token this session presented. */
  tokenId: string;
  /** The identity token at the root of this session's hop chain (itself for an identity token). */
  rootTokenId: string;
  /** The parent session, when the link is proven (hop token) or inferred. */
  parent: string | undefined;
  linkKind: 'hop-token' | 'token-reuse' | 'address-time' | undefined;
  startedMicros: number;
  /** The address the gateway reached the target at (SSH sessions), for address-time lineage. */
  targetAddress?: string;
}

export interface LiveSession {
  readonly info: SessionInfo;
  /** Ends the session from the gateway's side; the client is told why. */
  terminate(reason: TerminationReason): void;
}

export interface TerminationReason {
  /** Why, for the session's `session.end` cause: a revocation of the session itself or of a session it descends from. */
  code: 'shutdown' | 'revoked' | 'ancestor-revoked';
  message: string; // what the client is told
  detail: string; // what the recording says
  /** Revocations: who revoked (the admin API's or the CLI's actor) and what, with the reason given. */
  revocation?: { identity?: string; tokenId?: string; by: string; reason?: string };
  /** Cut by the revocation of this ancestor session. */
  ancestor?: string;
}

/** The `session.end` data of a session ended by the gateway (shutdown, revocation). */
export function terminationEnd(reason: TerminationReason): EventMap['session.end'] {
  const cause = reason.code === 'shutdown' ? 'gateway-shutdown' : reason.code;
  return {
    reason: reason.detail, cause,
    ...(reason.revocation ? { by: reason.revocation.by, revocation: reason.revocation } : {}),
    ...(reason.ancestor ? { ancestor: reason.ancestor } : {}),
  };
}

/** Told when a session joins and leaves the registry (the fleet publishes both); must not throw. */
export interface RegistryObserver {
  added(info: SessionInfo): void;
  removed(info: SessionInfo): void;
}

/** Admitted sessions are pending this long at most (connecting upstream); one never added is forgotten then. */
const PENDING_MS = 5 * 60_000;

export class SessionRegistry {
  private readonly sessions = new Map<string, LiveSession>();
  /**
   * Admitted, not yet live (the gateway is connecting upstream): a revocation that covers one condemns it, and
   * it is ended the moment it is added, so a login in flight does not escape a revocation of its ancestors.
   */
  private readonly pending = new Map<string, { info: SessionInfo; at: number; condemned?: TerminationReason }>();
  private observer: RegistryObserver | undefined;

  admitted(info: SessionInfo): void {
    const now = Date.now();
    for (const [id, p] of this.pending) if (now - p.at > PENDING_MS) this.pending.delete(id);
    this.pending.set(info.id, { info, at: now });
  }

  /** Condemns a pending session (returns false when none has this id). */
  condemn(id: string, reason: TerminationReason): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    p.condemned ??= reason;
    return true;
  }

  pendingList(): SessionInfo[] {
    return [...this.pending.values()].map((p) => p.info);
  }

  /** Pending sessions whose parent is this session. */
  pendingChildren(parent: string): SessionInfo[] {
    return [...this.pending.values()].filter((p) => p.info.parent === parent).map((p) => p.info);
  }

  observe(observer: RegistryObserver): void {
    this.observer = observer;
  }

  add(session: LiveSession): void {
    const pending = this.pending.get(session.info.id);
    this.pending.delete(session.info.id);
    this.sessions.set(session.info.id, session);
    this.observer?.added(session.info);
    // After the adapter has finished setting the session up (the rest of its synchronous start), before any I/O.
    const condemned = pending?.condemned;
    if (condemned) queueMicrotask(() => this.sessions.get(session.info.id) === session && session.terminate(condemned));
  }

  remove(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    this.observer?.removed(session.info);
  }

  get(id: string): LiveSession | undefined {
    return this.sessions.get(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  list(): LiveSession[] {
    return [...this.sessions.values()];
  }

  /** The session and every live session below it, however deep, parents first. */
  withDescendants(id: string): LiveSession[] {
    const out: LiveSession[] = [];
    const visit = (parent: string) => {
      for (const s of this.sessions.values()) {
        if (s.info.parent === parent && !out.includes(s)) {
          out.push(s);
          visit(s.info.id);
        }
      }
    };
    const root = this.sessions.get(id);
    if (root) out.push(root);
    visit(id);
    return out;
  }
}
