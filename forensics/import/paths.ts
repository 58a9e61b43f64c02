import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CaseFile } from '../store/case.js';
import { importFile, type FileImport, type ImportOptions } from './importer.js';

export interface ImportSummary {
  files: FileImport[];
  imported: number;
  unchanged: number;
  conflicts: number;
  rejected: number;
  failed: number;
  events: number;
  /** Every file imported or already present, and intact and sealed. */
  allIntact: boolean;
}

/** Named files as given; folders searched recursively for *.jsonl, in name order; duplicates removed. */
export function findRecordings(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) throw new Error(`no such file or directory: ${path}`);
    if (statSync(path).isDirectory()) files.push(...under(path));
    else files.push(path);
  }
  return [...new Map(files.map((f) => [resolve(f), f])).values()];
}

function under(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...under(path));
    else if (entry.isFile() && entry.name.endsWith('.jsonl')) out.push(path);
  }
  return out;
}

/** Imports every file (folders are searched for *.jsonl); one file's problem never stops the others. */
export async function importPaths(c: CaseFile, paths: readonly string[], opts: ImportOptions): Promise<ImportSummary> {
  const results: FileImport[] = [];
  for (const file of findRecordings(paths)) results.push(await importFile(c, file, opts));
  const count = (a: FileImport['action']) => results.filter((r) => r.action === a).length;
  return {
    files: results,
    imported: count('imported'),
    unchanged: count('unchanged'),
    conflicts: count('conflict'),
    rejected: count('rejected'),
    failed: count('failed'),
    events: results.reduce((n, r) => n + (r.action === 'imported' ? r.events : 0), 0),
    allIntact: results.every((r) => (r.action === 'imported' || r.action === 'unchanged') && r.integrity === 'intact' && r.sealed),
  };
}
