import type { Command } from 'commander';
import type { TrustedKeys } from '../../common/keys.js';
import { verifyRecordingFile, type Finding, type IntegrityStatus } from '../../common/recording/index.js';
import { ExitStatus } from '../main.js';
import { collect, recordingsIn, trustedKeysFrom } from './case-options.js';

/** One file's result, as printed by `--json`. */
export interface FileReport {
  path: string;
  status: IntegrityStatus | 'unreadable';
  session: string | null;
  events: number;
  lastSeq: number;
  intactThroughSeq: number;
  signedThroughSeq: number;
  sealed: boolean;
  findings: (Finding | { kind: 'unreadable'; message: string })[];
  /** Findings past the verifier's cap: counted, not listed. */
  findingsOmitted: number;
}

interface VerifyOptions {
  key: string[];
  config?: string;
  json?: boolean;
}

const LABEL: Record<FileReport['status'], string> = {
  intact: 'intact',
  unsealed: 'UNSEALED',
  truncated: 'TRUNCATED',
  'unknown-key': 'UNKNOWN-KEY',
  tampered: 'TAMPERED',
  invalid: 'INVALID',
  unreadable: 'UNREADABLE',
};

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check recordings: exit 0 only if every one is intact and sealed; says what is wrong otherwise')
    .argument('<paths...>', 'recording files, or folders searched recursively for *.jsonl')
    .option('--key <file-or-dir>', 'trusted Ed25519 public key (PEM) or a folder of *.pub keys; repeatable', collect, [])
    .option('--config <file>', "trust the gateway key in this configuration's keys.dir")
    .option('--json', 'print an array of per-file reports')
    .addHelpText('after', '\nWithout --key or --config, the keys in ./keys are trusted if that folder exists.\n' +
      'Exit status: 0 every recording intact and sealed, 1 a problem in at least one, 2 a usage error.')
    .action(async (paths: string[], opts: VerifyOptions) => {
      const files = recordingsIn(paths);
      const trusted = trustedKeysFrom(opts);
      if (trusted.size === 0) {
        process.stderr.write('hopscope: no trusted keys (use --key or --config): signatures cannot be checked, every recording reports unknown-key\n');
      }
      const reports: FileReport[] = [];
      for (const file of files) reports.push(await verifyFile(file, trusted));
      process.stdout.write(opts.json ? `${JSON.stringify(reports, null, 2)}\n` : formatText(reports));
      const ok = reports.every((r) => r.status === 'intact' && r.sealed);
      if (!ok) throw new ExitStatus(1);
    });
}


async function verifyFile(path: string, trusted: TrustedKeys): Promise<FileReport> {
  try {
    const r = await verifyRecordingFile(path, trusted);
    return {
      path,
      status: r.status,
      session: r.header?.session ?? null,
      events: r.events,
      lastSeq: r.lastSeq,
      intactThroughSeq: r.intactThroughSeq,
      signedThroughSeq: r.signedThroughSeq,
      sealed: r.sealed,
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

function formatText(reports: FileReport[]): string {
  const width = Math.max(...reports.map((r) => LABEL[r.status].length));
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${LABEL[r.status].padEnd(width)}  ${r.path}  ${summary(r)}`);
    for (const f of r.findings) {
      const where = ['seq' in f && f.seq !== undefined ? `seq ${f.seq}` : '', 'line' in f ? `line ${f.line}` : '']
        .filter(Boolean).join(', ');
      lines.push(`    ${f.kind}${where ? ` (${where})` : ''}: ${f.message}`);
    }
    if (r.findingsOmitted > 0) lines.push(`    … and ${r.findingsOmitted} more finding${r.findingsOmitted === 1 ? '' : 's'} (not listed)`);
  }
  const intact = reports.filter((r) => r.status === 'intact' && r.sealed).length;
  const problems = reports.length - intact;
  const files = `${reports.length} file${reports.length === 1 ? '' : 's'}`;
  lines.push(`${files}: ${intact} intact, ${problems} problem${problems === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}

function summary(r: FileReport): string {
  if (r.status === 'unreadable' || r.session === null) return '';
  const parts = [`session ${r.session}`, `${r.events} events`];
  if (r.status === 'intact') parts.push('sealed');
  else parts.push(`intact through seq ${r.intactThroughSeq}`, `signed through seq ${r.signedThroughSeq}`);
  return `(${parts.join(', ')})`;
}
