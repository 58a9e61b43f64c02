import type { Clock } from '../../common/clock.js';
import type { Signer } from '../../common/keys.js';
import { EventType, type EventMap, type EventName } from '../../common/recording/index.js';
import type { Logger } from '../log.js';
import { newSessionId, RecordingWriter, type FsyncPolicy } from './writer.js';

export interface Refusal {
  protocol: 'postgres' | 'ssh' | 'admin';
  reason: string; // a stable ErrorCode
  message: string; // what the client was told
  client: string;
  identity?: string;
  target?: string;
  tokenId?: string;
  detail?: string;
}

/**
 * The gateway's own recording (protocol `gateway`), one per run: start, stop and
 * every refusal that happens before a session exists (bad token, unknown target,
 * protocol violation during startup). Same codec, same guarantees.
 */
export class AuditLog {
  private readonly writer: RecordingWriter;
  private readonly logger: Logger;

  constructor(opts: { dir: string; signer: Signer; clock: Clock; fsync: FsyncPolicy; logger: Logger }) {
    this.writer = RecordingWriter.open({
      dir: opts.dir,
      session: `gateway-${newSessionId(opts.clock)}`,
      protocol: 'gateway',
      signer: opts.signer,
      clock: opts.clock,
      fsync: opts.fsync,
      checkpointEvery: 100,
    });
    this.logger = opts.logger;
  }

  get path(): string {
    return this.writer.path;
  }

  record<K extends EventName>(type: K, data: EventMap[K]): void {
    try {
      this.writer.append(type, data);
      this.writer.commit()?.catch((err: unknown) => this.failed(err, type));
    } catch (err) {
      this.failed(err, type);
    }
  }

  private failed(err: unknown, type: string): void {
    this.logger.error({ err: (err as Error).message, detail: (err as { detail?: string }).detail, type }, 'cannot write the gateway audit recording');
  }

  refused(refusal: Refusal): void {
    this.logger.warn({ ...refusal }, 'refused');
    this.record(EventType.Refused, { ...refusal });
  }

  close(data: EventMap['session.end']): void {
    this.writer.close(data);
  }
}
