import type ssh2 from 'ssh2';
import { EventType } from '../../common/recording/index.js';
import type { TargetConfig } from '../config.js';
import type { ChannelContext } from './context.js';

/**
 * Port forwarding: remote (-R) and Unix-socket forwarding are always refused;
 * local forwarding (-L) only to destinations the target's `allowForwarding`
 * lists, opened from the target's side. Every request is recorded, allowed or not.
 */
export function handleForwarding(conn: ssh2.Connection, ctx: ChannelContext, target: TargetConfig | undefined): void {
  const rules = target?.type === 'ssh' ? target.allowForwarding : [];
  const refuse = (kind: string, dest: string) => {
    ctx.note(EventType.SshForward, { kind, dest, allowed: false, reason: 'no forwarding rule allows it' });
    ctx.metrics.refusalsTotal.inc({ reason: 'FORWARDING_NOT_ALLOWED' });
  };
  conn.on('request', (_accept, reject, name, info) => {
    const i = info as { bindAddr?: string; bindPort?: number; socketPath?: string };
    const dest = i.socketPath ?? `${i.bindAddr}:${i.bindPort}`;
    refuse(name, dest);
    reject?.();
  });
  conn.on('openssh.streamlocal', (_accept, reject, info) => {
    refuse('streamlocal', info.socketPath);
    reject();
  });
  conn.on('tcpip', (accept, reject, info) => {
    const dest = `${info.destIP}:${info.destPort}`;
    if (!rules.some((r) => r === dest || r === `${info.destIP}:*`)) {
      refuse('local', dest);
      return reject();
    }
    const down = accept();
    down.pause();
    ctx.note(EventType.SshForward, { kind: 'local', dest, allowed: true, origin: `${info.srcIP}:${info.srcPort}` });
    ctx.upstream.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, up) => {
      if (err || !ctx.live) {
        ctx.note(EventType.SshForward, { kind: 'local', dest, step: 'failed', error: err?.message ?? 'session ended' });
        return void down.close();
      }
      let sent = 0;
      let received = 0;
      down.on('data', (c: Buffer) => (sent += c.length));
      up.on('data', (c: Buffer) => (received += c.length));
      down.pipe(up).pipe(down);
      up.on('close', () => {
        if (ctx.live) ctx.note(EventType.SshForward, { kind: 'local', dest, step: 'closed', sent, received });
        down.close();
      });
      down.on('close', () => up.close());
      down.resume();
    });
  });
}
