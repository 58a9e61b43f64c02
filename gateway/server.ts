import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { systemClock, type Clock } from '../common/clock.js';
import { loadOrCreateSigner, loadTrustedKeys, trustedKeysOf, type Signer } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { createAdminServer, GatewayMetrics, LivePolicies, loadOrCreateAdminToken, PolicyReloader, reachOf, type ReloadOutcome } from './admin/index.js';
import { parseHostPort, readSecret, type LoadedConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { catalogFor } from './pg/catalog.js';
import { createPgListener } from './pg/listener.js';
import { createSshListener } from './ssh/index.js';
import { SessionRegistry } from './sessions.js';
import { createPolicies, RevocationStore, type PolicyPipeline } from './policy/index.js';
import { approverOf, revocationActions } from './revocation.js';
import { fleetRevocationActions, FleetMember } from './fleet/index.js';
import { AuditLog, attachJournal, recoverCrashedSessions, SessionJournal } from './recording/index.js';
import { askPrimaryForMetrics, isWorkerProcess } from './workers.js';

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
}

export interface RunningGateway {
  readonly postgres: { host: string; port: number } | undefined;
  readonly ssh: { host: string; port: number } | undefined;
  readonly admin: { host: string; port: number; url: string; token: string };
  readonly signer: Signer;
  readonly auditPath: string;
  /** This gateway as a member of a fleet (config controlPlane), or undefined when it works alone. */
  readonly fleet: FleetMember | undefined;
  /**
   * Reloads masking, guardrails and identities from the config file (what SIGHUP does): applied, or refused
   * with the file, line and rule while the policies in force stay. Live sessions switch at their next statement.
   */
  reload(): Promise<ReloadOutcome>;
  /** Stops accepting, ends live sessions with an administrator-shutdown error, seals their recordings. */
  stop(): Promise<void>;
}

/** Starts the listeners of a configuration; resolves once every one is bound. */
export async function startGateway(config: LoadedConfig, opts: StartOptions = {}): Promise<RunningGateway> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger();
  // Rules first: a rule that does not compile stops the gateway before it listens.
  const policies = await createPolicies(config, clock);
  const signer = loadOrCreateSigner(config.keys.dir);
  const revocations = new RevocationStore(config.keys.dir);
  // Tokens are verified against the gateway's own key, plus any *.pub placed in keys.dir (key rotation).
  const trusted = new Map([...loadTrustedKeys([config.keys.dir]), ...trustedKeysOf([signer.publicKey])]);
  const adminUrl = config.controlPlane?.adminUrl ?? `http://${config.admin.listen}`;
  const adminToken = loadOrCreateAdminToken(config.keys.dir);
  const metrics = new GatewayMetrics();
  if (isWorkerProcess()) metrics.sumAcrossWorkers(askPrimaryForMetrics());
  // The journal of sessions first: crash recovery checks the last run's files against it, then every
  // recording opened from now on (the audit log's included) is listed in it before its first event.
  const dir = config.recording.dir;
  const journal = SessionJournal.open({ dir, signer, clock, fsync: config.recording.fsync, logger, trusted });
  const recovered = await recoverCrashedSessions({ dir, journal, signer, trusted, clock, logger });
  const detachJournal = attachJournal(dir, journal);
  const closeJournal = () => {
    detachJournal();
    // An anchor outside the folder: a journal cut after this entry no longer matches the log.
    logger.info({ journal: journal.path, head: journal.head }, 'journal of sessions closed');
    journal.close();
  };
  let audit: AuditLog;
  try {
    audit = new AuditLog({ dir, signer, clock, fsync: config.recording.fsync, logger });
  } catch (err) {
    closeJournal();
    throw err;
  }
  const registry = new SessionRegistry();
  const tls = loadTls(config);
  const servers: Server[] = [];
  let fleet: FleetMember | undefined;
  if (config.controlPlane) {
    try {
      fleet = await FleetMember.join({
        config, signer, trusted, broker: policies.approvals, logger, adminUrl,
        liveSessions: () => registry.list().map((s) => s.info),
        cut: (r, fleetCut) => fleetActions!.cutFromPeer(r, fleetCut),
        evicted: () => {
          for (const session of registry.list()) {
            session.terminate({ code: 'shutdown', message: 'terminating connection: this gateway left the fleet', detail: 'gateway name taken over in the fleet' });
          }
        },
      }, revocations.list());
    } catch (err) {
      audit.close({ reason: `gateway failed to start: ${(err as Error).message}`, cause: 'session-error' });
      closeJournal();
      throw err;
    }
    registry.observe(fleet);
    logger.info({ gateway: fleet.name }, 'joined the fleet');
  }
  const fleetActions = fleet && fleetRevocationActions({ registry, fleet, audit, clock, local: revocations });
  // Admission reads revocations from memory: keys.dir's list alone, or the fleet's copy.
  const admission = { config, trusted, signer, clock, metrics, logger, audit, registry, revocations: fleet?.revocations ?? revocations, fleet };
  // The adapters hold this pipeline for the gateway's life; a reload swaps the policies behind it.
  const sharedCatalog = (name: string) => {
    const target = config.targets.find((t) => t.name === name);
    return target?.type === 'postgres' ? catalogFor(target) : undefined;
  };
  const live = new LivePolicies(policies.pipeline, reachOf(config), metrics, sharedCatalog);
  const reloader = new PolicyReloader({ config, live, audit, logger, metrics, clock, readCatalogs: readCatalogsFor(logger) });

  try {
    let postgres: RunningGateway['postgres'];
    if (config.listeners.postgres) {
      const server = createPgListener({ ...admission, tls, policy: live });
      postgres = await listen(server, config.listeners.postgres);
      servers.push(server);
    }
    let ssh: RunningGateway['ssh'];
    if (config.listeners.ssh) {
      const server = createSshListener({ ...admission, policy: live });
      ssh = await listen(server, config.listeners.ssh);
      servers.push(server);
    }
    const adminServer = createAdminServer({
      token: adminToken,
      metrics,
      approvals: fleet?.approvals ?? policies.approvals,
      approverOf: (token) => approverOf(token, config, trusted, clock, fleet?.revocations ?? revocations),
      revocations: fleetActions ?? revocationActions({ registry, revocations, audit, clock }),
      ...(fleet ? { fleet } : {}),
      refused: ({ route, ...refusal }) => {
        metrics.refusalsTotal.inc({ reason: refusal.reason });
        audit.refused({ protocol: 'admin', ...refusal, detail: route });
      },
      sessions: fleet ? () => fleet.liveSessions() : () => registry.list().map(({ info }) => ({
        id: info.id, protocol: info.protocol, identity: info.identity, target: info.target, client: info.client,
        parent: info.parent, linkKind: info.linkKind, startedAt: new Date(info.startedMicros / 1000).toISOString(),
      })),
    });
    const admin = await listen(adminServer, config.admin.listen);
    servers.push(adminServer);
    audit.record(EventType.GatewayStart, {
      keyId: signer.keyId, listeners: { postgres, ssh, admin }, config: config.source, ...(fleet ? { fleet: { gateway: fleet.name } } : {}),
      ...(recovered.length ? { recovered } : {}),
    });
    logger.info({ postgres, ssh, admin, keyId: signer.keyId, recordings: config.recording.dir }, 'gateway started');

    let stopping: Promise<void> | undefined;
    return {
      postgres,
      ssh,
      admin: { ...admin, url: `http://${admin.host}:${admin.port}`, token: adminToken },
      signer,
      auditPath: audit.path,
      fleet,
      reload: () => reloader.reload(),
      stop: () => (stopping ??= (async () => {
        for (const server of servers) server.close();
        const live = registry.list();
        for (const session of live) {
          session.terminate({ code: 'shutdown', message: 'terminating connection because the gateway is shutting down', detail: 'gateway shutdown' });
        }
        await Promise.all(servers.map((s) => (s.listening ? once(s, 'close') : undefined)));
        await fleet?.leave();
        audit.record(EventType.GatewayStop, { sessionsEnded: live.length });
        audit.close({ reason: 'gateway stopped', cause: 'gateway-shutdown', sessionsEnded: live.length });
        closeJournal();
        logger.info('gateway stopped');
      })()),
    };
  } catch (err) {
    for (const server of servers) server.close();
    await fleet?.leave();
    audit.close({ reason: `gateway failed to start: ${(err as Error).message}`, cause: 'session-error' });
    closeJournal();
    throw err;
  }
}

/**
 * Before a reload puts rules in force that read a target's catalog, the catalog is read (live sessions that
 * started without one adopt it); one that cannot be read is logged, and those sessions' statements are refused.
 */
function readCatalogsFor(logger: Logger) {
  return async (pipeline: PolicyPipeline, config: LoadedConfig): Promise<void> => {
    for (const target of config.targets) {
      if (target.type !== 'postgres') continue;
      if (!config.identities.some((i) => i.targets.includes(target.name) && pipeline.needsCatalog({ identity: i.name, target: target.name }))) continue;
      await catalogFor(target).refresh().catch((err: Error) => logger.error({ target: target.name, detail: err.message }, 'target catalog unreadable at reload'));
    }
  };
}

function listen(server: Server, address: string): Promise<{ host: string; port: number }> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${address}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      const bound = server.address() as AddressInfo;
      resolve({ host: bound.address, port: bound.port });
    });
  });
}

function loadTls(config: LoadedConfig): SecureContext | undefined {
  if (!config.tls) return undefined;
  return createSecureContext({
    cert: readSecret(config.tls.cert, 'tls.cert'),
    key: readSecret(config.tls.key, 'tls.key'),
    minVersion: 'TLSv1.2',
  });
}
