/**
 * The hash thread (line-hashes.ts): for each file being read, the SHA-256 of
 * every line and of the whole file. Chunks arrive in order; each gets one reply
 * with the hashes of the lines it completed, cut by the readers' own LineCutter.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { HASH_PROTOCOL, lineHashHex, type HashReply, type HashRequest } from './line-hashes.js';
import { LineCutter } from './read.js';

const port = parentPort!;
const files = new Map<number, { cutter: LineCutter; hash: Hash }>();

port.on('message', (m: HashRequest) => {
  const reply = (r: Omit<HashReply, 'file'>) => port.postMessage({ file: m.file, ...r } satisfies HashReply);
  try {
    if (m.op === 'drop') {
      files.delete(m.file);
      return;
    }
    let f = files.get(m.file);
    if (!f) files.set(m.file, (f = { cutter: new LineCutter(), hash: createHash('sha256') }));
    if (m.op === 'end') {
      files.delete(m.file);
      return reply({ fileHash: f.hash.digest('hex') });
    }
    const chunk = Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength);
    f.hash.update(chunk);
    let lines = '';
    f.cutter.push(chunk, (bytes) => { lines += lineHashHex(bytes); });
    reply({ lines });
  } catch (err) {
    files.delete(m.file);
    reply({ error: (err as Error)?.message ?? String(err) });
  }
});

port.postMessage({ file: -1, protocol: HASH_PROTOCOL } satisfies HashReply);
