import { existsSync } from 'node:fs';
import { loadTrustedKeys, type TrustedKeys } from '../../common/keys.js';
import { loadConfig } from '../../gateway/config.js';
import { findRecordings, ForensicsError, openCase, type CaseFile } from '../../forensics/index.js';
import { ExitStatus, UsageError } from '../main.js';

/** Options and errors shared by verify and the forensic commands (import, sessions, chain, show, export). */

/** A usage error: main prints it and exits with status 2. */
export function usageError(message: string): never {
  throw new UsageError(message);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Trusted gateway keys from --key files/folders, a config's keys.dir, or ./keys. */
export function trustedKeysFrom(opts: { key: string[]; config?: string }): TrustedKeys {
  const sources = [...opts.key];
  try {
    if (opts.config) sources.push(loadConfig(opts.config).keys.dir);
    if (sources.length === 0 && existsSync('keys')) sources.push('keys');
    return loadTrustedKeys(sources);
  } catch (err) {
    return usageError(`cannot load trusted keys: ${(err as Error).message}`);
  }
}

/** Opens the case file; a missing --db or an unusable file is a clear error with exit 1. */
export function openCaseOrExit(path: string | undefined, readonly: boolean): CaseFile {
  if (!path) usageError('--db FILE is required (the case file)');
  try {
    return openCase(path, { readonly });
  } catch (err) {
    if (err instanceof ForensicsError) {
      process.stderr.write(`hopscope: ${err.message}\n`);
      throw new ExitStatus(1);
    }
    throw err;
  }
}

/** Named files as given; folders searched recursively for *.jsonl, in name order. */
export function recordingsIn(paths: string[]): string[] {
  let files: string[];
  try {
    files = findRecordings(paths);
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (files.length === 0) usageError(`no recordings (*.jsonl) found in ${paths.join(', ')}`);
  return files;
}
