import type ssh2 from 'ssh2';
import type { EventMap, EventName, EventType } from '../../common/recording/index.js';
import type { GatewayMetrics } from '../admin/index.js';
import type { Logger } from '../log.js';
import type { PolicyLifecycle, PolicyTrail } from '../policy/lifecycle.js';
import type { MaskCounts, PolicyContext, PolicyPipeline } from '../policy/types.js';
import type { RecordingWriter } from '../recording/index.js';
import type { DownloadMode } from './sftp-downloads.js';
import type { TargetFiles } from './target-files.js';

/** What a channel of an SSH session needs from its session. */
export interface ChannelContext {
  readonly policyContext: PolicyContext;
  readonly policy: PolicyPipeline;
  /**
   * Masks free text (exec and shell output, downloads) with the rules in scope
   * for this session's identity and target; undefined when none can apply.
   */
  readonly textMask: ((text: string) => { text: string; counts: MaskCounts }) | undefined;
  readonly upstream: ssh2.Client;
  /** The gateway's own file access on the target (masking downloads, hashing uploads). */
  readonly files: TargetFiles;
  /** `shell.downloads`: what happens to a download masking cannot handle. */
  readonly downloads: DownloadMode;
  /** Files uploaded in this session (sftp, scp): path → SHA-256 hex; the same map as `policyContext.uploads`. */
  readonly uploads: Map<string, string>;
  readonly writer: RecordingWriter;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** HOPSCOPE_TOKEN and HOPSCOPE_SESSION, offered to the target with every exec and shell. */
  readonly hopEnv: Record<string, string>;
  /**
   * Stages an event and writes it (write before forward); returns a promise to
   * wait for when fsync=always, undefined when there is nothing to wait for. A
   * failure fails the whole session closed, then throws (or rejects).
   */
  record<K extends EventName>(type: K, data: EventMap[K]): Promise<void> | undefined;
  /** The session's recording as the policy lifecycle writes it: `append` returns the event's seq. */
  readonly trail: PolicyTrail;
  /** Records and counts refusals and approvals (the same lifecycle as PostgreSQL's). */
  readonly lifecycle: PolicyLifecycle;
  /** Stages and writes an event without waiting for fsync (output, bookkeeping). */
  note<K extends EventName>(type: K, data: EventMap[K]): void;
  /**
   * Records SSH data (output, exec/subsystem input) in full, coalesced per channel
   * and stream and written in batches (see DataRecorder); never for commands.
   */
  data(type: DataEventName, channel: number, stream: 'stdout' | 'stderr' | undefined, chunk: Buffer, counts?: MaskCounts): void;
  /** Writes the data held by `data` now (input, before it is forwarded). */
  flushData(): void;
  /** Whether the session still forwards (false once ended or failed closed). */
  readonly live: boolean;
}

/** The events whose payload is SSH data (see DataRecorder). */
export type DataEventName = typeof EventType.SshInput | typeof EventType.SshOutput;
