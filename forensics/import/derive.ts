import type { RecordingEvent } from '../../common/recording/index.js';
import { TerminalEmulator, terminalBytes } from '../replay/emulator.js';
import { WIDTH, type Batch } from './batch.js';
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
 * responses, masking, decisions, approvals, terminal keyframes). Unknown event
 * types are stored as events only.
 */
export class SessionIndexer {
  readonly facts: SessionFacts;
  private emulator: TerminalEmulator | undefined;
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

  constructor(id: string, protocol: string) {
    this.facts = {
      id, protocol, identity: null, identityKind: null, tokenId: null, tokenKind: null, target: null, client: null, start: null, end: null,
      endReason: null, parent: null, linkKind: null, inferred: false, evidence: null, cols: null, rows: null, terminalChannel: null, startData: null,
    };
  }

  add(e: RecordingEvent, b: Batch): void {
    const s = this.facts.id;
    const d = e.data;
    this.lastSeq = e.seq;
    this.lastT = e.t;
    this.facts.start ??= e.t;
    switch (e.type) {
      case 'session.start': this.start(e); break;
      case 'session.end':
        this.facts.end = e.t;
        this.facts.endReason = str(d.reason);
        break;
      case 'pg.query':
        b.statements.push(s, e.seq, e.t, 'sql', str(d.sql) ?? '', null, null);
        break;
      case 'pg.execute':
        b.statements.push(s, e.seq, e.t, 'sql', str(d.sql) ?? '', str(d.statement), d.params === undefined ? null : JSON.stringify(d.params));
        break;
      case 'pg.result': this.result(e, b); break;
      case 'pg.error':
      case 'pg.notice':
        b.results.push(s, e.seq, e.t, num(d.statement), e.type === 'pg.error' ? 'error' : 'notice', null, null, null, null, null,
          str(d.code), str(d.message), 0);
        break;
      case 'ssh.exec':
        b.statements.push(s, e.seq, e.t, 'exec', str(d.command) ?? '', null, null);
        break;
      case 'ssh.line':
        this.sawLineEvents = true;
        b.statements.push(s, e.seq, e.t, 'line', str(d.line) ?? '', null, null);
        break;
      case 'ssh.sftp':
        b.statements.push(s, e.seq, e.t, 'sftp', [str(d.op), str(d.path)].filter(Boolean).join(' '), null, d.size === undefined ? null : JSON.stringify({ size: d.size }));
        break;
      case 'ssh.input':
        for (const line of this.editor.feed(terminalBytes(d))) {
          if (this.typedLines.length < MAX_PENDING_LINES * WIDTH.statements) this.typedLines.push(s, e.seq, e.t, 'line', line, null, null);
        }
        break;
      case 'ssh.pty':
        if (this.terminalChannel === undefined) {
          this.terminalChannel = d.channel ?? null;
          this.facts.cols ??= num(d.cols);
          this.facts.rows ??= num(d.rows);
          if (this.emulator && num(d.cols) && num(d.rows)) this.emulator.resize(num(d.cols)!, num(d.rows)!);
        }
        break;
      case 'ssh.output': {
        this.terminalChannel ??= d.channel ?? null;
        if ((d.channel ?? null) === this.terminalChannel) this.terminal().write(terminalBytes(d));
        const masked = maskNotes(d.masked).map((m) => (m.field === '*' ? { ...m, field: str(d.stream) ?? 'output' } : m));
        if (masked.length) {
          b.results.push(s, e.seq, e.t, num(d.statement), 'output', null, null, null, null, null, null, null, sum(masked));
          for (const m of masked) b.sensitive.push(s, e.seq, num(d.statement), m.field, m.rule, 1, m.count);
        }
        break;
      }
      case 'ssh.resize': {
        const cols = num(d.cols);
        const rows = num(d.rows);
        if (cols && rows && (d.channel ?? null) === (this.terminalChannel ?? d.channel ?? null)) this.terminal().resize(cols, rows);
        break;
      }
      case 'ssh.exit':
        b.results.push(s, e.seq, e.t, num(d.statement), 'exit', null, null, null, null, null,
          d.status !== undefined ? String(d.status) : null, str(d.signal), 0);
        break;
      default: break;
    }
    const decision = decisionOf(e.type, e.seq, d);
    if (decision) {
      const row: Batch['decisions'] = [s, e.seq, e.t, decision.statement, decision.action, decision.rule, decision.approvalId, decision.actor, decision.message];
      if ((e.type === 'ssh.exec' || e.type === 'ssh.line') && decision.action === 'block') this.commandBlocks.set(e.seq, row);
      else {
        if (e.type === 'policy.block' && decision.statement !== null) this.commandBlocks.delete(decision.statement);
        b.decisions.push(...row);
      }
    }
    const step = approvalOf(e.type, e.t, d);
    if (step) b.approvals.push(step.id, s, step.statement, step.operation, step.requestedT, step.status, step.approver, step.decidedT, step.waitedMicros);
  }

  /** True when enough terminal output is queued that a keyframe is due. */
  get keyframeDue(): boolean {
    return (this.emulator?.pendingBytes ?? 0) >= KEYFRAME_BYTES;
  }

  /** Applies queued terminal output and stages a keyframe at the last event seen. */
  async keyframe(b: Batch): Promise<void> {
    if (!this.emulator) return;
    await this.emulator.flush();
    b.keyframes.push(this.facts.id, this.lastSeq, this.lastT, this.emulator.cols, this.emulator.rows, this.emulator.serialize());
  }

  /** The last rows of the session (typed lines, the final keyframe); call once at the end of the file. */
  async finish(b: Batch): Promise<void> {
    if (!this.sawLineEvents) for (const v of this.typedLines) b.statements.push(v);
    for (const row of this.commandBlocks.values()) b.decisions.push(...row);
    this.commandBlocks.clear();
    this.typedLines = [];
    if (this.emulator && this.emulator.pendingBytes > 0) await this.keyframe(b);
    this.emulator?.dispose();
  }

  private terminal(): TerminalEmulator {
    this.facts.terminalChannel = JSON.stringify(this.terminalChannel ?? null);
    this.emulator ??= new TerminalEmulator(this.facts.cols ?? undefined, this.facts.rows ?? undefined);
    return this.emulator;
  }

  private start(e: RecordingEvent): void {
    const d = e.data;
    const f = this.facts;
    f.start = e.t;
    f.identity = str(d.identity);
    f.identityKind = str(d.identityKind);
    f.tokenId = str(d.tokenId);
    f.tokenKind = str(d.tokenKind);
    f.target = str(d.target);
    f.client = str(d.client);
    f.parent = str(d.parent);
    f.linkKind = f.parent ? (str(d.linkKind) ?? 'hop-token') : null;
    f.inferred = typeof d.inferred === 'boolean' ? d.inferred : f.linkKind !== null && f.linkKind !== 'hop-token';
    f.evidence = d.evidence ?? null;
    const pty = (d.pty ?? null) as Record<string, unknown> | null;
    f.cols = num(pty?.cols) ?? num(d.cols);
    f.rows = num(pty?.rows) ?? num(d.rows);
    f.startData = JSON.stringify(d);
  }

  private result(e: RecordingEvent, b: Batch): void {
    const d = e.data;
    const s = this.facts.id;
    const statement = num(d.statement);
    const masked = maskedFields(d.columns, d.rows, maskNotes(d.masked));
    b.results.push(s, e.seq, e.t, statement, 'result', str(d.command), num(d.rowCount), num(d.rowsRecorded),
      d.columns === undefined ? null : JSON.stringify(d.columns), num(d.durationMicros), null, null, sum(masked));
    for (const m of masked) b.sensitive.push(s, e.seq, statement, m.field, m.rule, 1, m.count);
    for (const m of unmaskedSensitive(d.columns, d.rows, masked)) b.sensitive.push(s, e.seq, statement, m.field, m.rule, 0, m.count);
  }
}

function sum(notes: { count: number }[]): number {
  return notes.reduce((n, m) => n + m.count, 0);
}
