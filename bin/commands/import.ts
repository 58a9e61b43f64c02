import type { Command } from 'commander';
import { importPaths, type FileImport, type ImportSummary, type Progress } from '../../forensics/index.js';
import { ExitStatus } from '../main.js';
import { collect, openCaseOrExit, recordingsIn, trustedKeysFrom } from './case-options.js';

interface ImportOptions {
  db?: string;
  key: string[];
  config?: string;
  json?: boolean;
  requireKnownKey?: boolean;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import recordings into the SQLite case file; idempotent; verifies every hash and signature')
    .argument('<paths...>', 'recording files, or folders searched recursively for *.jsonl')
    .requiredOption('--db <file>', 'the case file (created if missing)')
    .option('--key <file-or-dir>', 'trusted Ed25519 public key (PEM) or a folder of *.pub keys; repeatable', collect, [])
    .option('--config <file>', "trust the gateway key in this configuration's keys.dir")
    .option('--require-known-key', 'refuse recordings signed by a key that is not trusted (default: import them, flagged)')
    .option('--json', 'print the summary and per-file results as JSON')
    .addHelpText('after', '\nWithout --key or --config, the keys in ./keys are trusted if that folder exists.\n' +
      'Exit status: 0 every file imported (or already present) intact or recovered, none missing, every journal intact; 1 otherwise; 2 a usage error.')
    .action(async (paths: string[], opts: ImportOptions) => {
      const files = recordingsIn(paths);
      const trusted = trustedKeysFrom(opts);
      if (trusted.size === 0) process.stderr.write('hopscope: no trusted keys (use --key or --config): every recording is flagged unknown-key\n');
      const c = openCaseOrExit(opts.db, false);
      const bar = process.stderr.isTTY && !opts.json ? new ProgressBar(files.length) : undefined;
      let summary: ImportSummary;
      try {
        // The paths as given: folders are checked against their journal of sessions (missing, unlisted files).
        summary = await importPaths(c, paths, { trusted, requireKnownKey: opts.requireKnownKey, onProgress: bar && ((p) => bar.update(p)) });
      } finally {
        bar?.done();
        c.close();
      }
      process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatText(summary));
      if (!summary.allIntact) throw new ExitStatus(1);
    });
}

function formatText(s: ImportSummary): string {
  const lines: string[] = [];
  for (const j of s.journals) if (j.state !== 'intact') lines.push(`JOURNAL ${j.state.toUpperCase()}  ${j.path}: ${j.note}`);
  for (const f of s.files) {
    if (f.action === 'imported' && f.integrity === 'intact') continue;
    lines.push(`${label(f)}  ${f.path}${f.session ? `  (session ${f.session})` : ''}${f.message ? `: ${f.message}` : ''}`);
    if (f.action === 'imported') for (const x of f.findings) lines.push(`    ${x.kind}${x.seq !== undefined ? ` (seq ${x.seq})` : ''}: ${x.message}`);
  }
  const n = s.files.length;
  lines.push(`${n} file${n === 1 ? '' : 's'}: ${s.imported} imported (${s.events} events), ${s.unchanged} already present, ` +
    `${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}, ${s.rejected} rejected, ${s.failed} failed, ${s.missing} missing; ${s.allIntact ? 'all intact' : 'NOT all intact'}`);
  return `${lines.join('\n')}\n`;
}

/** The action, then the integrity word (common/recording/integrity.ts), upper case when it is not good news. */
function label(f: FileImport): string {
  if (f.action === 'missing') return 'MISSING';
  if (f.action !== 'imported' && f.action !== 'unchanged') return f.action.toUpperCase();
  if (f.integrity === 'intact') return f.action;
  return `${f.action}, ${f.integrity === 'recovered' ? 'recovered' : (f.integrity ?? 'unknown').toUpperCase()}`;
}

/** One line on stderr, redrawn: file n/N, events/s and ETA from the bytes read. */
class ProgressBar {
  private index = 0;
  private path = '';
  private readonly started = Date.now();
  private events = 0;
  private doneEvents = 0;
  private last = 0;

  constructor(private readonly files: number) {}

  update(p: Progress): void {
    if (p.path !== this.path) {
      this.doneEvents += this.events;
      this.path = p.path;
      this.index++;
    }
    this.events = p.events;
    const now = Date.now();
    if (now - this.last < 100 && p.bytesRead < p.bytesTotal) return;
    this.last = now;
    const total = this.doneEvents + this.events;
    const rate = total / Math.max(0.001, (now - this.started) / 1000);
    const frac = p.bytesTotal ? p.bytesRead / p.bytesTotal : 1;
    const fileElapsed = (now - this.started) / 1000;
    const eta = frac > 0 && frac < 1 ? `${Math.ceil((fileElapsed / Math.max(frac, 1e-6)) * (1 - frac))}s` : '0s';
    const width = 24;
    const filled = Math.round(frac * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] file ${this.index}/${this.files} ` +
      `${total} events ${Math.round(rate)} ev/s ETA ${eta}   `);
  }

  done(): void {
    process.stderr.write('\r\x1b[K');
  }
}
