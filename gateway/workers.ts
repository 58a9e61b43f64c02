import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import { loadOrCreateSigner } from '../common/keys.js';
import { loadOrCreateAdminToken } from './admin/index.js';
import type { LoadedConfig } from './config.js';
import type { Logger } from './log.js';
import type { RunningGateway } from './server.js';
import { loadOrCreateHostKey } from './ssh/index.js';

/**
 * `hopscope gateway --workers N`: N processes behind the same listeners, so one Node event loop no longer caps
 * a gateway host. Node 20's net servers have no SO_REUSEPORT (`reusePort` came in Node 22.12/23.1; a second
 * bind here fails with EADDRINUSE), so this uses the cluster module with round-robin scheduling: the primary
 * binds each listener once, accepts, and hands each connection to the next worker. The admin port is shared
 * the same way: any worker answers, and in a fleet its answers (sessions, approvals, revocations) cover every
 * worker. GET /metrics too: the worker a scrape reaches asks the primary, which sums every worker's metrics.
 *
 * Each worker is a member of the fleet of its own (the control plane is what lets a revocation taken through
 * one worker cut sessions held by another, and a hop token minted by one link a child on another), hence a
 * control plane is required above one worker.
 *
 * The primary records nothing and serves nothing itself: it forks, restarts a worker that died, forwards
 * signals, and exits once every worker has sealed its recordings. A primary killed outright takes its workers
 * down with it (Node's cluster workers exit when their IPC channel closes); their next start recovers the
 * recordings they left open, as after any crash.
 */

/** The environment variable that tells a worker which one it is (1..N); it is kept across restarts. */
export const WORKER_INDEX_ENV = 'HOPSCOPE_WORKER_INDEX';

export const isWorkerProcess = (): boolean => cluster.isWorker;

/** Worker i joins the fleet as `<gatewayName>-<i>`. */
export function workerName(config: LoadedConfig, index: number): string {
  if (!config.controlPlane) throw new Error('gateway workers need controlPlane in the configuration');
  return `${config.controlPlane.gatewayName}-${index}`;
}

/**
 * Worker i's configuration: named `<gatewayName>-<i>` in the fleet and recording into `<recording.dir>/<name>`,
 * a folder of its own with its own journal of sessions and audit log (two processes appending to one journal
 * would break its chain; crash recovery of a folder assumes its one writer is gone). `hopscope import
 * <recording.dir>` searches the folders below it. A restarted worker takes its folder and name again.
 */
export function workerConfig(config: LoadedConfig, index: number): LoadedConfig {
  const name = workerName(config, index);
  // A SIGHUP reload compares the restart-only sections with the file's as loaded (`fromFile`), not with these.
  return {
    ...config, recording: { ...config.recording, dir: join(config.recording.dir, name) },
    controlPlane: { ...config.controlPlane!, gatewayName: name }, fromFile: config.fromFile ?? config,
  };
}

/**
 * Creates what keys.dir shares before any worker exists: the signing key, the admin token and (with an SSH
 * listener) the SSH host key. Each is created on first start by whoever comes first (`wx`), so N workers starting
 * at once would race, the losers failing on the existing file; and the workers must share them anyway (one host
 * key for clients to pin, one admin token, one key for the tokens this host issues).
 */
export function prepareSharedKeys(config: LoadedConfig): void {
  loadOrCreateSigner(config.keys.dir);
  loadOrCreateAdminToken(config.keys.dir);
  if (config.listeners.ssh) loadOrCreateHostKey(config.keys.dir);
}

/** What a worker tells the primary once its listeners are up. */
export interface WorkerReady {
  hopscope: 'ready';
  name: string;
  pid: number;
  postgres: { host: string; port: number } | undefined;
  ssh: { host: string; port: number } | undefined;
  admin: string;
  keyId: string;
  recordings: string;
}

interface WorkerFailed {
  hopscope: 'failed';
  message: string;
}

/** The worker's side: its index, configuration and name, and its messages to the primary. */
export function asWorker(config: LoadedConfig) {
  const index = Number(process.env[WORKER_INDEX_ENV]);
  if (!Number.isInteger(index) || index < 1) throw new Error(`a gateway worker needs ${WORKER_INDEX_ENV} (1..N)`);
  const own = workerConfig(config, index);
  const name = own.controlPlane!.gatewayName;
  const send = (message: WorkerReady | WorkerFailed) => new Promise<void>((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
  return {
    name,
    config: own,
    ready: (gateway: RunningGateway) => send({
      hopscope: 'ready', name, pid: process.pid, postgres: gateway.postgres, ssh: gateway.ssh, admin: gateway.admin.url,
      keyId: gateway.signer.keyId, recordings: own.recording.dir,
    }),
    failed: (err: unknown) => send({ hopscope: 'failed', message: err instanceof Error ? err.message : String(err) }),
    /**
     * After the gateway has stopped (recordings sealed): leave the cluster, so the process ends once idle. The
     * unref'd timer only fires if some handle would keep it alive anyway; nothing is left to write by then.
     */
    leave() {
      cluster.worker?.disconnect();
      setTimeout(() => process.exit(process.exitCode ?? 0), 10_000).unref();
    },
  };
}

/** A worker's request for every worker's metrics, and the primary's answer. */
interface MetricsRequest { hopscope: 'metrics'; id: number }
interface MetricsAnswer { hopscope: 'metrics'; id: number; text?: string; error?: string }

/** How long a worker's /metrics waits for the primary (which itself gives the workers 5 s: prom-client's limit). */
const METRICS_WAIT_MS = 8000;

/**
 * A worker's side of GET /metrics with --workers: asks the primary (runWorkerPool) for the text of every worker's
 * metrics summed. Rejects when the primary does not answer in time, or says why it could not.
 */
export function askPrimaryForMetrics(): () => Promise<string> {
  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  process.on('message', (m: MetricsAnswer) => {
    if (m?.hopscope !== 'metrics') return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    clearTimeout(w.timer);
    if (m.text !== undefined) w.resolve(m.text);
    else w.reject(new Error(`the workers' metrics could not be collected: ${m.error ?? 'no answer'}`));
  });
  return () => new Promise<string>((resolve, reject) => {
    if (!process.send || !process.connected) return reject(new Error('this worker has lost its primary: no metrics for the workers'));
    const id = next++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error(`the primary did not answer with the workers' metrics within ${METRICS_WAIT_MS / 1000} s`));
    }, METRICS_WAIT_MS);
    waiting.set(id, { resolve, reject, timer });
    process.send({ hopscope: 'metrics', id } satisfies MetricsRequest);
  });
}

export interface PoolEvents {
  /** Every worker has started: called once, with the workers in order. */
  running(workers: WorkerReady[]): void;
  /** A line for the person running the gateway. */
  say(line: string): void;
}

interface Slot {
  index: number;
  name: string;
  worker: Worker | undefined;
  ready: WorkerReady | undefined;
  /** Why the current process failed to start, if it said so. */
  failure: string | undefined;
  /** Exits in a row without becoming ready: the restart delay doubles with each. */
  failures: number;
  restart: NodeJS.Timeout | undefined;
}

const RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Runs `count` workers until SIGTERM or SIGINT; resolves with the exit status once every worker has exited: 0
 * when each stopped cleanly, 1 when one did not, or when one could not start at first (the others are then stopped:
 * a gateway that cannot start all of its workers does not start). Call in the primary, after prepareSharedKeys.
 */
export function runWorkerPool(config: LoadedConfig, count: number, logger: Logger, events: PoolEvents): Promise<number> {
  const slots: Slot[] = Array.from({ length: count }, (_, i) => ({
    index: i + 1, name: workerName(config, i + 1), worker: undefined, ready: undefined, failure: undefined, failures: 0, restart: undefined,
  }));
  let started = false;
  let stopping = false;
  let status = 0;
  let finish!: (status: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  // Round-robin from the primary (the default on Linux, said so): left to the kernel, accepts pile onto one worker.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  // Collects every connected worker's registries when one of them is scraped (askPrimaryForMetrics).
  const aggregator = new AggregatorRegistry();
  const answerMetrics = (worker: Worker, m: MetricsRequest) => {
    const reply = (answer: MetricsAnswer) => {
      if (worker.isConnected()) worker.send(answer);
    };
    aggregator.clusterMetrics().then((text) => reply({ hopscope: 'metrics', id: m.id, text }),
      (err: Error) => reply({ hopscope: 'metrics', id: m.id, error: err.message }));
  };
  const fork = (slot: Slot) => {
    slot.restart = undefined;
    slot.ready = undefined;
    slot.failure = undefined;
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index) });
    slot.worker = worker;
    worker.on('message', (m: WorkerReady | WorkerFailed | MetricsRequest) => {
      if (m?.hopscope === 'metrics') return answerMetrics(worker, m);
      if (m?.hopscope === 'failed') slot.failure = m.message;
      if (m?.hopscope !== 'ready') return;
      slot.ready = m;
      slot.failures = 0;
      if (started) events.say(`worker ${slot.name} running again (pid ${m.pid})`);
      else if (slots.every((s) => s.ready)) {
        started = true;
        events.running(slots.map((s) => s.ready!));
      }
    });
    worker.once('exit', (code, signal) => exited(slot, worker, code, signal));
  };

  const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    slot.worker = undefined;
    const how = signal ? `killed by ${signal}` : `exit status ${code}`;
    logger.warn({ worker: slot.name, pid: worker.process.pid, code, signal, stopping }, 'gateway worker exited');
    if (stopping) {
      // Ended by our SIGTERM before it had started: it had not yet caught signals, so it had opened nothing either.
      const clean = code === 0 || (signal === 'SIGTERM' && !slot.ready);
      if (!clean) {
        status = 1;
        events.say(`worker ${slot.name} (pid ${worker.process.pid}) did not stop cleanly: ${slot.failure ?? how}`);
      }
      if (slots.every((s) => !s.worker)) finish(status);
      return;
    }
    if (!started) {
      events.say(`worker ${slot.name} could not start: ${slot.failure ?? how}`);
      stop(1);
      return;
    }
    // Its name and folder are taken again: the fleet hands the name over once the dead holder's lease expired
    // (or it is seen dead on this host); until then the new process fails to join and is tried again later.
    const delay = Math.min(RESTART_DELAY_MS * 2 ** slot.failures, MAX_RESTART_DELAY_MS);
    events.say(slot.ready
      ? `worker ${slot.name} (pid ${worker.process.pid}) died (${how}): starting it again`
      : `worker ${slot.name} could not start again: ${slot.failure ?? how}; next try in ${(delay / 1000).toFixed(1)} s`);
    slot.failures++;
    slot.restart = setTimeout(() => fork(slot), slot.ready ? RESTART_DELAY_MS : delay);
  };

  const stop = (exitStatus: number) => {
    status = Math.max(status, exitStatus);
    if (stopping) return;
    stopping = true;
    for (const slot of slots) {
      clearTimeout(slot.restart);
      // SIGTERM, as if sent to the worker directly: it ends its sessions and seals its recordings, then exits.
      slot.worker?.process.kill('SIGTERM');
    }
    if (slots.every((s) => !s.worker)) finish(status);
  };
  const onStopSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    events.say(`${signal} received: stopping ${count} workers (each ends its sessions and seals its recordings)`);
    stop(0);
  };
  // Each worker reloads its policies from the same file and says so itself.
  const onReload = () => {
    for (const slot of slots) slot.worker?.process.kill('SIGHUP');
  };
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGHUP', onReload);
  for (const slot of slots) fork(slot);
  return done.finally(() => {
    process.removeListener('SIGTERM', onStopSignal);
    process.removeListener('SIGINT', onStopSignal);
    process.removeListener('SIGHUP', onReload);
  });
}
