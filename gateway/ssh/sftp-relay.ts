import type ssh2 from 'ssh2';
import { EventType } from '../../common/recording/index.js';
import type { ChannelContext } from './context.js';
import { maskNotesOf } from './data.js';
import { SftpDownloads, SftpFramer } from './sftp-downloads.js';
import { SftpTracker } from './sftp.js';

/**
 * The data paths of an sftp channel. Every operation worth recording is
 * (SftpTracker); a file written and closed is an upload: the gateway hashes
 * what is on the target and records it (ssh.upload, and the session's
 * uploads map the SSH policy reads) before the client hears that the close
 * succeeded, so nothing the client does next can run ahead of the record.
 * While text masking rules apply, files read are served masked (SftpDownloads).
 */
export function relaySftp(channel: number, ctx: ChannelContext, down: ssh2.ServerChannel, up: ssh2.ClientChannel): void {
  let written: string | undefined;
  const tracker = new SftpTracker((op) => ctx.note(EventType.SshSftp, { channel, ...op }), (path) => (written = path));
  let queue: Promise<void> | undefined;
  const write = (packet: Buffer) => {
    if (!ctx.live) return;
    ctx.metrics.bytesTotal.inc({ direction: 'target_to_client' }, packet.length);
    if (!down.write(packet)) {
      up.pause();
      down.once('drain', () => up.resume());
    }
  };
  const toClient = (packet: Buffer) => {
    written = undefined;
    tracker.fromServer.push(packet);
    const upload = written;
    if (upload !== undefined) queue = (queue ?? Promise.resolve()).then(() => recordUpload(channel, ctx, 'sftp', upload));
    if (queue) queue = queue.then(() => write(packet));
    else write(packet);
  };
  const toServer = (packet: Buffer) => {
    if (!ctx.live || packet.length === 0) return;
    if (!up.write(packet)) {
      down.pause();
      up.once('drain', () => down.resume());
    }
  };
  const mask = ctx.textMask;
  const downloads = mask
    ? new SftpDownloads(ctx.files, ctx.downloads, mask, toServer, toClient, (decision) => {
      ctx.note(EventType.SshSftp, decision.decision === 'masked'
        ? { channel, op: 'download', ...decision, masked: maskNotesOf(decision.masked) }
        : { channel, op: 'download', ...decision });
      if (decision.decision === 'blocked') ctx.metrics.refusalsTotal.inc({ reason: 'POLICY_BLOCKED' });
    })
    : undefined;
  const fromServer = new SftpFramer((packet) => (downloads ? downloads.fromServer(packet) : toClient(packet)));
  const fromClient = new SftpFramer((packet) => {
    tracker.fromClient.push(packet);
    if (downloads) downloads.fromClient(packet);
    else toServer(packet);
  });
  up.on('data', (chunk: Buffer) => fromServer.push(chunk));
  up.stderr.on('data', (chunk: Buffer) => down.stderr.write(chunk));
  down.on('data', (chunk: Buffer) => {
    if (!ctx.live) return;
    ctx.metrics.bytesTotal.inc({ direction: 'client_to_target' }, chunk.length);
    fromClient.push(chunk);
  });
  down.on('end', () => up.end());
}

/** Hashes an uploaded file as it is on the target, records it and registers it for the policy. A failure is recorded, never thrown. */
export async function recordUpload(channel: number, ctx: ChannelContext, via: 'sftp' | 'scp', path: string): Promise<void> {
  try {
    const file = await ctx.files.hash(path);
    ctx.uploads.set(file.path, file.sha256);
    if (path !== file.path) ctx.uploads.set(path, file.sha256);
    await ctx.record(EventType.SshUpload, { channel, via, path: file.path, ...(path !== file.path ? { as: path } : {}), sha256: file.sha256, bytes: file.bytes });
  } catch (err) {
    ctx.note(EventType.SshUpload, { channel, via, path, error: `could not hash the uploaded file: ${(err as Error).message}` });
  }
}
