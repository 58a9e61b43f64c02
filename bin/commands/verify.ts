import type { Command } from 'commander';
import { findRecordings } from '../../forensics/index.js';
import type { TrustedKeys } from '../../common/keys.js';
import {
  FolderCheck, INTEGRITY_DESCRIPTIONS, isTrustworthy, verifyRecordingFile, type Finding, type IntegrityState, type JournalFinding, type JournalState,
} from '../../common/recording/index.js';
import { ExitStatus } from '../main.js';
import { collect, trustedKeysFrom, usageError } from './case-options.js';

/** One file's result, as printed by `--json` (an array of these: recordings, absent ones as `missing`, and each folder's journal). */
export interface FileReport {
  path: string;
  /** Set for a folder's journal of sessions (its state is one of intact, tampered, unknown-key, invalid, unverified, missing). */
  kind?: 'journal';
  /** The integrity word (common/recording/integrity.ts); `unreadable` when the file could not be read at all. */
  status: IntegrityState | 'unreadable';
  session: string | null;
  /** The recording format version of the header (1 or 2), when readable. */
  version?: number;
  events: number;
  lastSeq: number;
  intactThroughSeq: number;
  signedThroughSeq: number;
  sealed: boolean;
  tamperedAtSeq?: number;
  recoveredAfterSeq?: number;
  /** What the folder's journal says about this file, when it changes or explains the verdict. */
  journal?: string;
  findings: (Finding | JournalFinding | { kind: 'unreadable'; message: string })[];
  /** Findings past the verifier's cap: counted, not listed. */
  findingsOmitted: number;
}


interface VerifyOptions {
  key: string[];
  config?: string;
  json?: boolean;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check recordings and their folder\'s journal of sessions: exit 0 only if every one is intact (or recovered after a crash)')
    .argument('<paths...>', 'recording files, or folders searched recursively for *.jsonl and their sessions.journal')
    .option('--key <file-or-dir>', 'trusted Ed25519 public key (PEM) or a folder of *.pub keys; repeatable', collect, [])
    .option('--config <file>', "trust the gateway key in this configuration's keys.dir")
    .option('--json', 'print an array of per-file reports (each folder\'s journal of sessions is one, kind "journal")')
    .addHelpText('after', `\nWithout --key or --config, the keys in ./keys are trusted if that folder exists.\n${
      Object.entries(INTEGRITY_DESCRIPTIONS).map(([k, v]) => `  ${k.padEnd(11)} ${v}`).join('\n')}\n` +
      'Exit status: 0 every recording intact or recovered and every journal intact, 1 a problem in at least one, 2 a usage error.')
    .action(async (paths: string[], opts: VerifyOptions) => {
      let files: string[];
      try {
        files = findRecordings(paths);
      } catch (err) {
        return usageError((err as Error).message);
      }
      const trusted = trustedKeysFrom(opts);
      if (trusted.size === 0) {
        process.stderr.write('hopscope: no trusted keys (use --key or --config): signatures cannot be checked, every recording reports unknown-key\n');
      }
      const folders = new FolderCheck(paths, trusted);
      const reports: FileReport[] = [];
      for (const file of files) reports.push(await verifyFile(file, trusted, folders));
      const { journals, missing } = folders.finish();
      if (files.length === 0 && journals.length === 0) usageError(`no recordings (*.jsonl) found in ${paths.join(', ')}`);
      for (const m of missing) {
        reports.push({
          path: m.path, status: 'missing', session: m.session, events: 0, lastSeq: 0, intactThroughSeq: 0, signedThroughSeq: 0, sealed: false,
          journal: m.note, findings: [], findingsOmitted: 0,
        });
      }
      const all = [...journals.map(journalReport), ...reports];
      process.stdout.write(opts.json ? `${JSON.stringify(all, null, 2)}\n` : formatText(all));
      const ok = all.every((r) => (r.kind === 'journal' ? r.status === 'intact' : isTrustworthy(r.status)));
      if (!ok) throw new ExitStatus(1);
    });
}

function journalReport(j: JournalState): FileReport {
  const r = j.report;
  return {
    path: j.path, kind: 'journal', status: j.state, session: null, events: r?.entries ?? 0, lastSeq: r?.lastSeq ?? 0,
    intactThroughSeq: r ? (r.tamperedAtSeq !== undefined ? r.tamperedAtSeq - 1 : r.lastSeq) : 0, signedThroughSeq: r?.lastSeq ?? 0, sealed: false,
    ...(r?.tamperedAtSeq !== undefined ? { tamperedAtSeq: r.tamperedAtSeq } : {}),
    journal: j.note, findings: r?.findings ?? [], findingsOmitted: 0,
  };
}

async function verifyFile(path: string, trusted: TrustedKeys, folders: FolderCheck): Promise<FileReport> {
  folders.seen(path); // present, even if unreadable: never reported missing
  try {
    const r = await verifyRecordingFile(path, trusted);
    const verdict = folders.judge(path, r);
    return {
      path,
      status: verdict.state,
      session: r.header?.session ?? null,
      ...(r.header ? { version: r.header.version } : {}),
      events: r.events,
      lastSeq: r.lastSeq,
      intactThroughSeq: r.intactThroughSeq,
      signedThroughSeq: r.signedThroughSeq,
      sealed: r.sealed,
      ...(verdict.tamperedAtSeq ?? r.tamperedAtSeq) !== undefined && verdict.state === 'tampered' ? { tamperedAtSeq: verdict.tamperedAtSeq ?? r.tamperedAtSeq } : {},
      ...(r.recoveredAfterSeq !== undefined ? { recoveredAfterSeq: r.recoveredAfterSeq } : {}),
      ...(verdict.note ? { journal: verdict.note } : {}),
      findings: r.findings,
      findingsOmitted: r.findingsOmitted,
    };
  } catch (err) {
    const message = `cannot read the file: ${(err as Error).message}`;
    return {
      path, status: 'unreadable', session: null, events: 0, lastSeq: 0, intactThroughSeq: 0, signedThroughSeq: 0, sealed: false,
      findings: [{ kind: 'unreadable', message }], findingsOmitted: 0,
    };
  }
}

function formatText(all: FileReport[]): string {
  const label = (status: string) => (isTrustworthy(status) ? status : status.toUpperCase());
  const width = Math.max(...all.map((r) => label(r.status).length));
  const lines: string[] = [];
  const reports = all.filter((r) => r.kind !== 'journal');
  for (const r of all) {
    if (r.kind === 'journal') {
      lines.push(`${label(r.status).padEnd(width)}  ${r.path}  (journal of sessions: ${String(r.journal)})`);
      continue;
    }
    lines.push(`${label(r.status).padEnd(width)}  ${r.path}  ${summary(r)}`);
    if (r.journal) lines.push(`    journal: ${r.journal}`);
    for (const f of r.findings) {
      const where = ['seq' in f && f.seq !== undefined ? `seq ${f.seq}` : '', 'line' in f ? `line ${f.line}` : '']
        .filter(Boolean).join(', ');
      lines.push(`    ${f.kind}${where ? ` (${where})` : ''}: ${f.message}`);
    }
    if (r.findingsOmitted > 0) lines.push(`    … and ${r.findingsOmitted} more finding${r.findingsOmitted === 1 ? '' : 's'} (not listed)`);
  }
  const intact = reports.filter((r) => r.status === 'intact').length;
  const recovered = reports.filter((r) => r.status === 'recovered').length;
  const problems = reports.length - intact - recovered + all.filter((r) => r.kind === 'journal' && r.status !== 'intact').length;
  const files = `${reports.length} file${reports.length === 1 ? '' : 's'}`;
  lines.push(`${files}: ${intact} intact${recovered ? `, ${recovered} recovered after a crash` : ''}, ${problems} problem${problems === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}

function summary(r: FileReport): string {
  if (r.status === 'unreadable' || r.status === 'missing' || r.session === null) return r.session ? `(session ${r.session})` : '';
  const parts = [`session ${r.session}`, `${r.events} events`];
  if (r.version === 1) parts.push('format v1');
  if (r.status === 'intact') parts.push('sealed');
  else if (r.status === 'recovered') parts.push(`recovered after crash at seq ${String(r.recoveredAfterSeq)}`);
  else {
    if (r.status === 'tampered' && r.tamperedAtSeq !== undefined) parts.push(`tampered at seq ${r.tamperedAtSeq}`);
    parts.push(`intact through seq ${r.intactThroughSeq}`, `signed through seq ${r.signedThroughSeq}`);
    if (r.signedThroughSeq < r.lastSeq) parts.push(`seq ${r.signedThroughSeq + 1}–${r.lastSeq} unverified`);
  }
  return `(${parts.join(', ')})`;
}
