import { decodeEvent, type EventMap, type KnownEvent, type RecordingEvent } from '../../common/recording/index.js';
import { terminalBytes } from '../replay/emulator.js';
import { WIDTH, type Batch } from './batch.js';
import type { TerminalOp } from './keyframes.js';
import { LineEditor } from './lines.js';
import { approvalOf, decisionOf, maskNotes, maskedFields, num, str, unmaskedSensitive } from './policy.js';

/** What the sessions row says, gathered while the events stream by. */
export interface SessionFacts {
  id: string;
  protocol: string;
  identity: string | null;
  identityKind: string | null;
  tokenId: string | null;
  tokenKind: string | null;
  target: string | null;
  client: string | null;
  start: number | null;
  end: number | null;
  endReason: string | null;
  parent: string | null;
  linkKind: string | null;
  inferred: boolean;
  evidence: unknown;
  cols: number | null;
  rows: number | null;
  terminalChannel: string | null;
  startData: string | null;
}

/** A keyframe every this many bytes of terminal output: seeking replays at most this much. */
export const KEYFRAME_BYTES = 64 * 1024;
/** Lines rebuilt from keystrokes are kept until the end of a file, and only if it has no `ssh.line` events. */
const MAX_PENDING_LINES = 100_000;

/**
 * Turns one session's events into the derived rows of the store (statements,
 * responses, masking, decisions, approvals, terminal keyframes) from their
 * decoded form (decodeEvent): an unknown type is stored as an event only, a
 * known one that does not match its schema is also a finding.
 */
export class SessionIndexer {
  readonly facts: SessionFacts;
  /** Whether the terminal was opened (keyframes.ts replays it where the rows are written), and its data bytes since the last keyframe. */
  private terminalOpen = false;
  private pendingBytes = 0;
  private readonly editor = new LineEditor();
  private typedLines: Batch['statements'] = [];
  private sawLineEvents = false;
  /** The SSH channel whose output is the terminal: the first with a pty, else the first with output. */
  private terminalChannel: unknown = undefined;
  private lastSeq = 0;
  private lastT = 0;
  /**
   * Blocked `ssh.exec` / `ssh.line` rows waiting for their `policy.block`
   * (recordings since the SSH channel uses the policy lifecycle): the
   * policy.block, which says why, replaces them; older recordings have none,
   * and the row's own decision is kept at the end of the file.
   */
  private readonly commandBlocks = new Map<number, Batch['decisions']>();
  /** The last result's columns and their JSON: a session's results mostly repeat the same columns. */
  private lastColumns: { name: string; typeOid: number; format: string }[] | undefined;
  private lastColumnsJson = '';

  /**
   * `version`: the recording's format version (its header), which decides how
   * event shapes are read. Without it, version 1 is assumed: its reading also
   * accepts every current shape.
   */
  constructor(id: string, protocol: string, private readonly version = 1) {
    this.facts = {
      id, protocol, identity: null, identityKind: null, tokenId: null, tokenKind: null, target: null, client: null, start: null, end: null,
      endReason: null, parent: null, linkKind: null, inferred: false, evidence: null, cols: null, rows: null, terminalChannel: null, startData: null,
    };
  }

  add(e: RecordingEvent, b: Batch): void {
    const s = this.facts.id;
    this.lastSeq = e.seq;
    this.lastT = e.t;
    this.facts.start ??= e.t;
    const ev = decodeEvent(this.version, e.type, e.data);
    if (ev.kind === 'invalid') {
      // Stored as recorded (the events row); reported, never read as something it is not.
      b.decodeFindings.push(e.seq, ev.message, s);
      return;
    }
    if (ev.kind === 'unknown') return;
    this.derive(ev, e, b);
    const decision = decisionOf(ev, e.seq);
    if (decision) {
      const row: Batch['decisions'] = [s, e.seq, e.t, decision.statement, decision.action, decision.rule, decision.approvalId, decision.actor, decision.message];
      if ((ev.type === 'ssh.exec' || ev.type === 'ssh.line') && decision.action === 'block') this.commandBlocks.set(e.seq, row);
      else {
        if (ev.type === 'policy.block' && decision.statement !== null) this.commandBlocks.delete(decision.statement);
        b.decisions.push(...row);
      }
    }
    const step = approvalOf(ev, e.t);
    if (step) {
      b.approvals.push(step.id, s, step.statement, step.operation, step.requestedT, step.status, step.approver, step.decidedT, step.waitedMicros, step.reason);
    }
  }

  /** The statements, results, terminal and session facts an event gives. */
  private derive(ev: KnownEvent, e: RecordingEvent, b: Batch): void {
    const s = this.facts.id;
    switch (ev.type) {
      case 'session.start': this.start(e, ev.data); break;
      case 'session.end': {
        const d = ev.data;
        this.facts.end = e.t;
        this.facts.endReason = d.reason;
        b.sessionEnds.push(d.cause, d.by ?? d.revocation?.by ?? null, s);
        break;
      }
      case 'pg.query':
        b.statements.push(s, e.seq, e.t, 'sql', ev.data.sql ?? '', null, null);
        break;
      case 'pg.execute': {
        const d = ev.data;
        b.statements.push(s, e.seq, e.t, 'sql', d.sql ?? '', d.statement, d.params === undefined ? null : JSON.stringify(d.params));
        break;
      }
      case 'pg.result': this.result(e, ev.data, b); break;
      case 'pg.error':
      case 'pg.notice': {
        const d = ev.data;
        b.results.push(s, e.seq, e.t, d.statement ?? null, ev.type === 'pg.error' ? 'error' : 'notice', null, null, null, null, null,
          d.code ?? null, d.message ?? null, 0);
        break;
      }
      case 'ssh.exec':
        b.statements.push(s, e.seq, e.t, 'exec', ev.data.command, null, null);
        break;
      case 'ssh.line':
        this.sawLineEvents = true;
        b.statements.push(s, e.seq, e.t, 'line', ev.data.line, null, null);
        break;
      case 'ssh.sftp': {
        const d = ev.data;
        b.statements.push(s, e.seq, e.t, 'sftp', [d.op, d.path].filter(Boolean).join(' '), null, d.size === undefined ? null : JSON.stringify({ size: d.size }));
        break;
      }
      case 'ssh.input':
        for (const line of ev.data.encoding === 'utf8' ? this.editor.feedText(ev.data.data) : this.editor.feed(terminalBytes(ev.data))) {
          if (this.typedLines.length < MAX_PENDING_LINES * WIDTH.statements) this.typedLines.push(s, e.seq, e.t, 'line', line, null, null);
        }
        break;
      case 'ssh.pty': {
        const d = ev.data;
        if (this.terminalChannel === undefined) {
          this.terminalChannel = d.channel;
          this.facts.cols ??= d.cols;
          this.facts.rows ??= d.rows;
          if (this.terminalOpen && d.cols && d.rows) this.terminalOp(b, e, 'resize', d.cols, d.rows);
        }
        break;
      }
      case 'ssh.output': {
        const d = ev.data;
        this.terminalChannel ??= d.channel;
        if (d.channel === this.terminalChannel) {
          this.terminal(b, e);
          // What the emulator would count: the bytes the data stands for.
          this.pendingBytes += typeof d.data !== 'string' ? 0 : d.encoding === 'utf8' ? Buffer.byteLength(d.data, 'utf8') : Buffer.byteLength(d.data, 'base64');
          this.terminalOp(b, e, 'data', typeof d.data === 'string' ? d.data : '', d.encoding);
          // The batch carries the text a second time for the terminal: it counts towards the batch's bytes, so memory stays bounded as before.
          if (typeof d.data === 'string') b.bytes += d.data.length;
        }
        if (!d.masked?.length) break; // most output: nothing masked, nothing to allocate
        const masked = maskNotes(d.masked).map((m) => (m.field === '*' ? { ...m, field: d.stream ?? 'output' } : m));
        if (masked.length) {
          b.results.push(s, e.seq, e.t, null, 'output', null, null, null, null, null, null, null, sum(masked));
          for (const m of masked) b.sensitive.push(s, e.seq, null, m.field, m.rule, 1, m.count);
        }
        break;
      }
      case 'ssh.resize': {
        const { cols, rows, channel } = ev.data;
        if (cols && rows && channel === (this.terminalChannel ?? channel)) {
          this.terminal(b, e);
          this.terminalOp(b, e, 'resize', cols, rows);
        }
        break;
      }
      case 'ssh.exit': {
        const d = ev.data;
        b.results.push(s, e.seq, e.t, null, 'exit', null, null, null, null, null, d.status !== undefined ? String(d.status) : null, d.signal ?? null, 0);
        break;
      }
      default: break;
    }
  }

  /** True when enough terminal output is queued that a keyframe is due. */
  get keyframeDue(): boolean {
    return this.pendingBytes >= KEYFRAME_BYTES;
  }

  /** Stages a keyframe at the last event seen (made where the batch is written, keyframes.ts). */
  keyframe(b: Batch): void {
    if (!this.terminalOpen) return;
    b.terminal.push(this.facts.id, this.lastSeq, this.lastT, 'keyframe' satisfies TerminalOp, null, null);
    this.pendingBytes = 0;
  }

  /** The last rows of the session (typed lines, the final keyframe); call once at the end of the file. */
  finish(b: Batch): void {
    if (!this.sawLineEvents) for (const v of this.typedLines) b.statements.push(v);
    for (const row of this.commandBlocks.values()) b.decisions.push(...row);
    this.commandBlocks.clear();
    this.typedLines = [];
    if (this.terminalOpen && this.pendingBytes > 0) this.keyframe(b);
    if (this.terminalOpen) b.terminal.push(this.facts.id, this.lastSeq, this.lastT, 'end' satisfies TerminalOp, null, null);
    this.terminalOpen = false;
  }

  /** Opens the session's terminal on first use, at the size the session announced. */
  private terminal(b: Batch, e: RecordingEvent): void {
    if (this.terminalOpen) return;
    this.terminalOpen = true;
    // The channel is fixed once output has been written to the terminal.
    this.facts.terminalChannel = JSON.stringify(this.terminalChannel ?? null);
    this.terminalOp(b, e, 'open', this.facts.cols, this.facts.rows);
  }

  private terminalOp(b: Batch, e: RecordingEvent, op: TerminalOp, x: string | number | null, y: string | number | null): void {
    b.terminal.push(this.facts.id, e.seq, e.t, op, x, y);
  }

  /** JSON.stringify(columns), reused while the columns (plain name/typeOid/format objects, in that order) equal the last ones. */
  private columnsJson(columns: unknown): string {
    const plain = plainColumns(columns);
    const last = this.lastColumns;
    if (plain && last && plain.length === last.length) {
      let same = true;
      for (let i = 0; i < plain.length && same; i++) {
        const a = plain[i]!;
        const z = last[i]!;
        same = a.name === z.name && a.typeOid === z.typeOid && a.format === z.format;
      }
      if (same) return this.lastColumnsJson;
    }
    const json = JSON.stringify(columns);
    this.lastColumns = plain;
    this.lastColumnsJson = json;
    return json;
  }

  private start(e: RecordingEvent, d: EventMap['session.start']): void {
    const f = this.facts;
    f.start = e.t;
    f.identity = d.identity;
    f.identityKind = str(d.identityKind);
    f.tokenId = d.tokenId;
    f.tokenKind = d.tokenKind;
    f.target = d.target;
    f.client = d.client;
    f.parent = d.parent ?? null;
    f.linkKind = f.parent ? (d.linkKind ?? 'hop-token') : null;
    f.inferred = typeof d.inferred === 'boolean' ? d.inferred : f.linkKind !== null && f.linkKind !== 'hop-token';
    f.evidence = d.evidence ?? null;
    const pty = (d.pty ?? null) as Record<string, unknown> | null;
    f.cols = num(pty?.cols) ?? num(d.cols);
    f.rows = num(pty?.rows) ?? num(d.rows);
    f.startData = JSON.stringify(e.data); // as recorded, every detail in its order
  }

  private result(e: RecordingEvent, d: EventMap['pg.result'], b: Batch): void {
    const s = this.facts.id;
    const statement = d.statement;
    const masked = maskedFields(d.columns, d.rows, maskNotes(d.masked));
    b.results.push(s, e.seq, e.t, statement, 'result', d.command, d.rowCount, d.rowsRecorded,
      this.columnsJson(d.columns), d.durationMicros, null, null, sum(masked));
    for (const m of masked) b.sensitive.push(s, e.seq, statement, m.field, m.rule, 1, m.count);
    for (const m of unmaskedSensitive(d.columns, d.rows, masked)) b.sensitive.push(s, e.seq, statement, m.field, m.rule, 0, m.count);
  }
}

const COLUMN_KEYS = ['name', 'typeOid', 'format'];

/** A result's columns as plain `{name, typeOid, format}` objects, keys in that order (the gateway's shape), or undefined when they hold anything else. */
function plainColumns(columns: unknown): { name: string; typeOid: number; format: string }[] | undefined {
  if (!Array.isArray(columns)) return undefined;
  for (const c of columns) {
    if (typeof c !== 'object' || c === null) return undefined;
    let keys = 0;
    for (const k in c) if (k !== COLUMN_KEYS[keys++]) return undefined; // the order decides the JSON
    const { name, typeOid, format } = c as Record<string, unknown>;
    if (keys !== 3 || typeof name !== 'string' || typeof typeOid !== 'number' || typeof format !== 'string') return undefined;
  }
  return columns as { name: string; typeOid: number; format: string }[];
}

function sum(notes: { count: number }[]): number {
  return notes.reduce((n, m) => n + m.count, 0);
}
