import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { HopscopeError } from '../../common/errors.js';
import { BackendFramer } from './frames.js';
import { serializeFrontendStartup, upstreamStartup } from './protocol/index.js';
import { md5Password, ScramClient } from './scram.js';

export interface UpstreamOptions {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string | undefined;
  /**
   * The client's own StartupMessage, whose parameters (client_encoding, options,
   * application_name, ...) go upstream as the client wrote them; none when absent.
   */
  clientStartup?: Buffer;
  timeoutMs?: number;
}

/** An authenticated upstream connection, ready for queries. */
export interface Upstream {
  /** Writes, pause/resume and the end events; its bytes come through `onData`, not the 'data' event. */
  socket: Socket;
  processId: number;
  secretKey: number;
  parameters: [string, string][];
  /** The server's ParameterStatus messages as it sent them (their values are in the client's encoding), to relay unchanged. */
  parameterFrames: Buffer[];
  /**
   * Where the server's bytes go from now on, chunk by chunk; bytes that came
   * before a listener are given to it first. Each chunk belongs to the listener
   * (never reused), so views of it may be kept or queued for a write.
   */
  onData(listener: (chunk: Buffer) => void): void;
}

/**
 * The buffer every upstream socket reads into (`onread`): no allocation per
 * read and no stream machinery. Each read is copied out into a chunk of its own
 * before anything else runs, so parsers and queued writes may keep views of it.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/** Startup parameters a client may not choose: the gateway decides who and where. */
const RESERVED = new Set(['user', 'database', 'replication']);

/**
 * Connects to PostgreSQL and authenticates with the gateway's own credentials
 * (SCRAM-SHA-256, md5, cleartext or trust). The client never sees them.
 */
export function connectUpstream(opts: UpstreamOptions): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    let sink = (chunk: Buffer) => onData(chunk);
    const socket = connect({
      host: opts.host, port: opts.port, noDelay: true,
      onread: { buffer: readBuffer, callback: (n, buf) => { sink(Buffer.from(buf.subarray(0, n))); return true; } },
    });
    const parser = new Parser();
    const parameters: [string, string][] = [];
    const parameterFrames: Buffer[] = [];
    const framer = new BackendFramer();
    let scram: ScramClient | undefined;
    let backendKey: { processId: number; secretKey: number } | undefined;
    let settled = false;
    const timer = setTimeout(() => fail('UPSTREAM_UNAVAILABLE', 'timed out connecting to the target'), opts.timeoutMs ?? 10_000);

    const fail = (code: 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_AUTH_FAILED', message: string, detail?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new HopscopeError(code, message, detail));
    };
    const needPassword = (): string => {
      if (opts.password === undefined) throw new Error('the target asks for a password and none is configured');
      return opts.password;
    };

    const onMessage = (msg: BackendMessage) => {
      switch (msg.name) {
        case 'authenticationCleartextPassword':
          socket.write(serialize.password(needPassword()));
          break;
        case 'authenticationMD5Password':
          socket.write(serialize.password(md5Password(opts.user, needPassword(), Buffer.from((msg as unknown as { salt: Buffer }).salt))));
          break;
        case 'authenticationSASL': {
          const mechanisms = (msg as unknown as { mechanisms: string[] }).mechanisms;
          if (!mechanisms.includes('SCRAM-SHA-256')) throw new Error(`no supported SASL mechanism in ${mechanisms.join(', ')}`);
          scram = new ScramClient(needPassword());
          socket.write(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', scram.first()));
          break;
        }
        case 'authenticationSASLContinue':
          if (!scram) throw new Error('SASL continue without SASL start');
          socket.write(serialize.sendSCRAMClientFinalMessage(scram.final((msg as unknown as { data: string }).data)));
          break;
        case 'authenticationSASLFinal':
          scram?.verifyFinal((msg as unknown as { data: string }).data);
          break;
        case 'authenticationOk':
          break;
        case 'parameterStatus': {
          const m = msg as unknown as { parameterName: string; parameterValue: string };
          parameters.push([m.parameterName, m.parameterValue]);
          break;
        }
        case 'backendKeyData': {
          const m = msg as unknown as { processID: number; secretKey: number };
          backendKey = { processId: m.processID, secretKey: m.secretKey };
          break;
        }
        case 'error': {
          const m = msg as unknown as { message: string; code?: string };
          const auth = m.code?.startsWith('28') ?? false;
          fail(auth ? 'UPSTREAM_AUTH_FAILED' : 'UPSTREAM_UNAVAILABLE', 'the target refused the gateway', `${m.code}: ${m.message}`);
          break;
        }
        case 'readyForQuery':
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket.removeListener('error', onError);
          socket.removeListener('close', onClose);
          resolve({ socket, processId: backendKey?.processId ?? 0, secretKey: backendKey?.secretKey ?? 0, parameters, parameterFrames, onData: handOver() });
          break;
        default:
          break; // notices during startup are not the client's business
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        framer.push(chunk, (tag, frame) => { if (tag === 0x53) parameterFrames.push(Buffer.from(frame)); });
        parser.parse(chunk, onMessage);
      } catch (err) {
        fail('UPSTREAM_AUTH_FAILED', 'the gateway could not authenticate to the target', String((err as Error).message));
      }
    };
    /** After ReadyForQuery the bytes are the session's: kept until its listener comes. */
    const handOver = () => {
      let early: Buffer[] | undefined = [];
      sink = (chunk) => early!.push(chunk);
      return (listener: (chunk: Buffer) => void) => {
        sink = listener;
        const kept = early ?? [];
        early = undefined;
        for (const chunk of kept) listener(chunk);
      };
    };
    const onError = (err: Error) => fail('UPSTREAM_UNAVAILABLE', 'the target is unreachable', err.message);
    const onClose = () => fail('UPSTREAM_UNAVAILABLE', 'the target closed the connection during startup');
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('connect', () => {
      // Not pg-protocol's serialize.startup: it appends client_encoding=UTF8, overriding the client's choice.
      socket.write(opts.clientStartup
        ? upstreamStartup(opts.clientStartup, opts.user, opts.database, (key) => RESERVED.has(key) || key.startsWith('_pq_.'))
        : serializeFrontendStartup({ user: opts.user, database: opts.database }));
    });
  });
}

/** Sends a CancelRequest for an upstream backend on a fresh connection, as the protocol requires. */
export function cancelUpstream(host: string, port: number, processId: number, secretKey: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => socket.end(serialize.cancel(processId, secretKey)));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}
