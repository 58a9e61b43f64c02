import type { Command } from 'commander';
import { EXPORT_FORMATS, exportCase, ExportRefusedError, ForensicsError, resolveSessionId, type ExportFormat } from '../../forensics/index.js';
import { ExitStatus } from '../main.js';
import { openCaseOrExit, usageError } from './case-options.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('timelines and reports: timesketch | csv | jsonl | ocsf | asciicast | html')
    .requiredOption('--db <file>', 'the case file')
    .requiredOption('--format <format>', EXPORT_FORMATS.join(' | '))
    .requiredOption('--out <path>', 'the output file (asciicast without --session: a folder, one <session>.cast per SSH hop)')
    .option('--session <id>', 'only this session')
    .action((opts: { db: string; format: string; out: string; session?: string }) => {
      if (!EXPORT_FORMATS.includes(opts.format as ExportFormat)) usageError(`unknown format ${opts.format}: use ${EXPORT_FORMATS.join(', ')}`);
      const c = openCaseOrExit(opts.db, true);
      try {
        const r = exportCase(c, { format: opts.format as ExportFormat, out: opts.out, session: opts.session === undefined ? undefined : resolveSessionId(c, opts.session) });
        process.stderr.write(`hopscope: wrote ${r.records} ${opts.format === 'html' ? 'hops' : 'records'} to ${r.files.length === 1 ? r.files[0] : `${r.files.length} files in ${opts.out}`}\n`);
      } catch (err) {
        const message = err instanceof ForensicsError || err instanceof ExportRefusedError ? err.message : `cannot write ${opts.out}: ${(err as Error).message}`;
        process.stderr.write(`hopscope: ${message}\n`);
        throw new ExitStatus(1);
      } finally {
        c.close();
      }
    });
}
