import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { TrustedKeys } from '../keys.js';
import type { IntegrityState } from './integrity.js';
import { JOURNAL_FILE, verifyJournalText, type JournalReport } from './journal.js';
import type { VerifyReport } from './verify.js';

/** What the journal adds to a file's own verdict. */
export interface JournalVerdict {
  state: IntegrityState;
  /** When the journal changes or explains the verdict: why, in words. */
  note?: string;
  /** The first seq not proven, for a file the journal shows rewritten or cut. */
  tamperedAtSeq?: number;
}

/** The facts of one verified file the journal check needs. */
export type FileFacts = Pick<VerifyReport, 'status' | 'header' | 'lastSeq' | 'lastHash' | 'sealed' | 'signedThroughSeq'>;

/**
 * A file's state once its folder's journal is taken into account. A file that
 * is tampered, unknown-key or invalid on its own stays so. Otherwise: a v2 file
 * no journal lists is `unlisted`; one whose last seq or final hash differs from
 * what the journal recorded at close is `tampered` (rewritten, or cut with the
 * seal dropped); a sealed file the journal never saw closed is `unverified`.
 * Version 1 files predate the journal and keep their own verdict.
 */
export function judgeFile(path: string, r: FileFacts, journal: JournalReport | undefined): JournalVerdict {
  if (r.status === 'invalid' || !r.header) return { state: r.status };
  // Version 1 predates the journal (and proves less: no header signature, checkpoints by count only).
  if (r.header.version < 2) return { state: r.status };
  // Without a journal beside it, a file proves only itself; a scanned folder without one is reported by FolderCheck.
  if (!journal) return { state: r.status };
  // Never listed says more than a bad signature: not a session this gateway ran (fabricated, or another gateway's).
  const entry = journal.sessions.get(r.header.session);
  if (!entry) return { state: 'unlisted', note: `the journal never listed session ${r.header.session}: fabricated, or written by another gateway${r.status !== 'unverified' && r.status !== 'intact' ? ` (on its own: ${r.status})` : ''}` };
  if (entry.file !== basename(path)) return { state: 'unlisted', note: `the journal lists session ${r.header.session} as ${entry.file}, not ${basename(path)}` };
  if (r.status === 'tampered' || r.status === 'unknown-key') return { state: r.status };
  const end = entry.closed ?? entry.recovered;
  if (end) {
    if (end.lastSeq !== r.lastSeq || end.finalHash !== r.lastHash) {
      const at = Math.min(r.lastSeq, end.lastSeq ?? 0) + (r.lastSeq === end.lastSeq ? 0 : 1);
      return {
        state: 'tampered', tamperedAtSeq: Math.max(1, Math.min(at, r.signedThroughSeq + 1)),
        note: `the journal recorded the file ending at seq ${String(end.lastSeq)} with hash ${String(end.finalHash).slice(0, 16)}…; it ends at seq ${r.lastSeq} with hash ${r.lastHash.slice(0, 16)}…: rewritten or cut`,
      };
    }
    if (entry.recovered && r.status !== 'recovered') return { state: 'tampered', note: 'the journal recorded a crash recovery this file does not carry' };
    return { state: r.status };
  }
  if (r.sealed) {
    return { state: 'unverified', note: 'sealed, but the journal never recorded it closed: the journal was cut, or the gateway crashed while closing' };
  }
  return { state: 'unverified', note: 'listed as open in the journal: a live session, or a crash not yet recovered' };
}

/** Sessions the journal lists whose file is not among `present` (file names in the folder). */
export function missingFrom(journal: JournalReport, present: ReadonlySet<string>): { session: string; file: string; note: string }[] {
  const out: { session: string; file: string; note: string }[] = [];
  for (const s of journal.sessions.values()) {
    if (present.has(s.file)) continue;
    const how = s.closed ? `closed at seq ${String(s.closed.lastSeq)}` : s.recovered ? 'recovered' : 'opened';
    out.push({ session: s.session, file: s.file, note: `the journal lists session ${s.session} (${how}, entry ${s.opened.seq}) but ${s.file} is absent` });
  }
  return out;
}

/** The journal of the folder holding `dir`, or undefined when it has none. */
export function readFolderJournal(dir: string, trusted: TrustedKeys): JournalReport | undefined {
  const path = join(dir, JOURNAL_FILE);
  if (!existsSync(path)) return undefined;
  return verifyJournalText(readFileSync(path, 'utf8'), trusted);
}

/** A folder's journal as a verdict line: its own state, or `missing` when a folder of v2 recordings has none. */
export interface JournalState {
  path: string;
  state: 'intact' | 'tampered' | 'unknown-key' | 'invalid' | 'unverified' | 'missing';
  report?: JournalReport;
  note: string;
}

/**
 * The journal side of checking recordings: `judge` each verified file against its
 * folder's journal, then `finish` for the journals' own states and the sessions
 * they list whose file is absent. Folders named in `args` (and below them) are
 * scanned, so they get missing-file detection; a file named alone is only judged.
 */
export class FolderCheck {
  private readonly journals = new Map<string, JournalReport | undefined>();
  private readonly present = new Map<string, Set<string>>();
  private readonly needsJournal = new Set<string>();
  private readonly scanned: string[];

  constructor(args: readonly string[], private readonly trusted: TrustedKeys) {
    this.scanned = args.filter((p) => existsSync(p) && statSync(p).isDirectory()).flatMap((p) => foldersUnder(p));
  }

  private journalOf(dir: string): JournalReport | undefined {
    if (!this.journals.has(dir)) this.journals.set(dir, readFolderJournal(dir, this.trusted));
    return this.journals.get(dir);
  }

  /** Notes that a file is there, without judging it (one a case already holds, or one that is not a recording). */
  seen(path: string): void {
    const dir = resolve(dirname(path));
    let names = this.present.get(dir);
    if (!names) this.present.set(dir, (names = new Set()));
    names.add(basename(path));
  }

  judge(path: string, facts: FileFacts): JournalVerdict {
    this.seen(path);
    const dir = resolve(dirname(path));
    if ((facts.header?.version ?? 1) >= 2) this.needsJournal.add(dir);
    return judgeFile(path, facts, this.journalOf(dir));
  }

  finish(): { journals: JournalState[]; missing: { path: string; session: string; note: string }[] } {
    const journals: JournalState[] = [];
    const missing: { path: string; session: string; note: string }[] = [];
    for (const dir of new Set(this.scanned)) {
      const path = join(dir, JOURNAL_FILE);
      const report = this.journalOf(dir);
      if (!report) {
        if (this.needsJournal.has(dir)) {
          journals.push({ path, state: 'missing', note: `${JOURNAL_FILE} is absent: a gateway keeps one in every recordings folder, so deleted or fabricated sessions cannot be ruled out` });
        }
        continue;
      }
      const first = report.findings[0];
      journals.push({
        path, state: report.status, report,
        note: report.status === 'intact' ? `${report.entries} entries, ${report.sessions.size} sessions` : `${first?.message ?? report.status}${report.tamperedAtSeq !== undefined ? ` (entries from seq ${report.tamperedAtSeq} are not believed)` : ''}`,
      });
      for (const m of missingFrom(report, this.present.get(dir) ?? new Set())) missing.push({ path: join(dir, m.file), session: m.session, note: m.note });
    }
    return { journals, missing };
  }
}

/** `dir` and every folder below it. */
function foldersUnder(dir: string): string[] {
  const out = [resolve(dir)];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) out.push(...foldersUnder(join(dir, entry.name)));
  }
  return out;
}
