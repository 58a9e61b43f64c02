import { describe, expect, it } from 'vitest';
import { serializeBackend as backend } from './protocol/index.js';
import { ResponseStream } from './responses.js';

const answer = [
  backend.parseComplete(), backend.bindComplete(), backend.dataRow(['1']), backend.commandComplete('SELECT 1'), backend.readyForQuery('I'),
];

describe('ResponseStream', () => {
  it('passes untouched messages on as one view of the chunk, whatever the split', () => {
    const all = Buffer.concat(answer);
    for (let cut = 0; cut <= all.length; cut++) {
      const stream = new ResponseStream(undefined);
      for (const kind of ['parse', 'bind', 'execute', 'sync'] as const) stream.expect(kind);
      const seen: number[] = [];
      const out = [...stream.push(all.subarray(0, cut), (tag) => seen.push(tag)), ...stream.push(all.subarray(cut), (tag) => seen.push(tag))];
      expect(Buffer.concat(out)).toEqual(all);
      expect(out.length).toBeLessThanOrEqual(2);
      expect(seen).toEqual(answer.map((m) => m[0]));
      expect(stream.idle).toBe(true);
    }
  });

  it('hands a chunk of whole untouched messages on as itself, and joins a message cut in three', () => {
    const all = Buffer.concat(answer);
    const stream = new ResponseStream(undefined);
    for (const kind of ['parse', 'bind', 'execute', 'sync'] as const) stream.expect(kind);
    const out = stream.push(all, () => undefined);
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(all);
    const row = backend.dataRow(['12345']);
    const seen: Buffer[] = [];
    const parts = [row.subarray(0, 2), row.subarray(2, 9), row.subarray(9)].map((p) => stream.push(p, (_, f) => seen.push(Buffer.from(f))));
    expect(parts.map((p) => p.length)).toEqual([0, 0, 1]);
    expect(Buffer.concat(parts.flat())).toEqual(row);
    expect(seen).toEqual([row]);
  });

  it("puts the gateway's answers in order, and its refusal in place of the server's error", () => {
    const stream = new ResponseStream(undefined);
    stream.expect('parse');
    const blocked = backend.errorResponse({ severity: 'ERROR', code: '42501', message: 'hopscope: blocked' });
    stream.expectRefusal(blocked);
    stream.expect('sync');
    const serverError = backend.errorResponse({ severity: 'ERROR', code: '42601', message: 'syntax error' });
    const seen: number[] = [];
    const out = stream.push(Buffer.concat([backend.parseComplete(), serverError, backend.readyForQuery('E')]), (tag) => seen.push(tag));
    expect(Buffer.concat(out)).toEqual(Buffer.concat([backend.parseComplete(), blocked, backend.readyForQuery('E')]));
    expect(seen).toEqual([0x31, 0x5a]); // the replaced error is not the server's to record
    expect(stream.idle).toBe(true);
  });

  it('drops a refusal the server skipped because the batch had already failed', () => {
    const stream = new ResponseStream(undefined);
    stream.expect('execute');
    stream.expectRefusal(backend.errorResponse({ severity: 'ERROR', code: '42501', message: 'x' }));
    stream.expect('sync');
    const failed = backend.errorResponse({ severity: 'ERROR', code: '22012', message: 'division by zero' });
    expect(Buffer.concat(stream.push(Buffer.concat([failed, backend.readyForQuery('I')]), () => undefined)))
      .toEqual(Buffer.concat([failed, backend.readyForQuery('I')]));
    expect(stream.idle).toBe(true);
    // The failure may also have been settled before the refusal was queued.
    stream.expectRefusal(backend.errorResponse({ severity: 'ERROR', code: '42501', message: 'x' }));
    stream.expect('sync');
    stream.push(backend.readyForQuery('I'), () => undefined);
    expect(stream.idle).toBe(true);
  });

  it("replaces a simple Query stand-in's error and keeps the server's ReadyForQuery", () => {
    const stream = new ResponseStream(undefined);
    const blocked = backend.errorResponse({ severity: 'ERROR', code: '42501', message: 'hopscope: blocked' });
    stream.expectRefusal(blocked, true);
    stream.expect('query');
    stream.expect('query');
    const server = [backend.errorResponse({ severity: 'ERROR', code: '42601', message: 'syntax error' }), backend.readyForQuery('E')];
    const next = [backend.errorResponse({ severity: 'ERROR', code: '25P02', message: 'current transaction is aborted' }), backend.readyForQuery('E')];
    const out = stream.push(Buffer.concat([...server, ...next]), () => undefined);
    expect(Buffer.concat(out)).toEqual(Buffer.concat([blocked, backend.readyForQuery('E'), ...next]));
    expect(stream.idle).toBe(true);
    const accepted = new ResponseStream(undefined);
    accepted.expectRefusal(blocked, true);
    expect(() => accepted.push(backend.commandComplete('DROP TABLE'), () => undefined)).toThrow(/refused/);
  });

  it('fails when the server accepts what the gateway refused', () => {
    const stream = new ResponseStream(undefined);
    stream.expectRefusal(backend.errorResponse({ severity: 'ERROR', code: '42501', message: 'x' }));
    expect(() => stream.push(backend.parseComplete(), () => undefined)).toThrow(/accepted a statement the gateway refused/);
  });
});
