import { describe, expect, it } from 'vitest';
import { SftpTracker, type SftpOp } from './sftp.js';

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const str = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
const packet = (type: number, ...parts: Buffer[]) => {
  const body = Buffer.concat([Buffer.from([type]), ...parts]);
  return Buffer.concat([u32(body.length), body]);
};
const u64 = (n: number) => Buffer.concat([u32(0), u32(n)]);

/**
 * An upload of 70000 bytes to /tmp/é.txt, a download of 5 bytes, a rename and a
 * remove: each client request with the server replies that follow it.
 */
function conversation(): Array<[Buffer, Buffer[]]> {
  const ok = (id: number) => packet(101, u32(id), u32(0), str(''), str(''));
  return [
    [packet(1, u32(3)), [packet(2, u32(3))]],
    [packet(3, u32(1), str('/tmp/é.txt'), u32(0x1a), u32(0)), [packet(102, u32(1), str('H1'))]],
    [packet(6, u32(2), str('H1'), u64(0), str(Buffer.alloc(70_000, 7))), [ok(2)]],
    [packet(4, u32(3), str('H1')), [ok(3)]],
    [packet(3, u32(4), str('/etc/motd'), u32(1), u32(0)), [packet(102, u32(4), str('H2'))]],
    [packet(5, u32(5), str('H2'), u64(0), u32(32768)), [packet(103, u32(5), str('hello'))]],
    [packet(4, u32(6), str('H2')), [ok(6)]],
    [packet(18, u32(7), str('/a'), str('/b')), [ok(7)]],
    [packet(13, u32(8), str('/b')), [ok(8)]],
  ];
}

/** Feeds each request split at `split`, then its replies split there too. */
function track(split: number): SftpOp[] {
  const ops: SftpOp[] = [];
  const t = new SftpTracker((op) => ops.push(op));
  for (const [request, replies] of conversation()) {
    const at = Math.min(split, request.length);
    t.fromClient.push(request.subarray(0, at));
    t.fromClient.push(request.subarray(at));
    const reply = Buffer.concat(replies);
    t.fromServer.push(reply.subarray(0, Math.min(split, reply.length)));
    t.fromServer.push(reply.subarray(Math.min(split, reply.length)));
  }
  return ops;
}

describe('SftpTracker', () => {
  it('reports opens, sizes at close, renames and removes', () => {
    expect(track(0)).toEqual([
      { op: 'open', path: '/tmp/é.txt', mode: 'write,create,truncate' },
      { op: 'close', path: '/tmp/é.txt', read: 0, written: 70_000 },
      { op: 'open', path: '/etc/motd', mode: 'read' },
      { op: 'close', path: '/etc/motd', read: 5, written: 0 },
      { op: 'rename', path: '/a', to: '/b' },
      { op: 'remove', path: '/b' },
    ]);
  });

  it('gives the same operations however packets are split', () => {
    const expected = track(0);
    for (let split = 1; split < 80; split++) expect(track(split)).toEqual(expected);
  });

  it('survives garbage', () => {
    const t = new SftpTracker(() => undefined);
    for (let i = 0; i < 500; i++) {
      const junk = Buffer.from(Array.from({ length: 64 }, () => Math.floor(Math.random() * 256)));
      junk.writeUInt32BE(Math.floor(Math.random() * 100), 0);
      t.fromClient.push(junk);
      t.fromServer.push(junk);
    }
  });
});
