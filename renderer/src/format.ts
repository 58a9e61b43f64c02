import type { SessionRow } from '../../common/api/index.js';

/** HH:MM:SS.mmm of a µs time (UTC, as the recordings). */
export function clock(micros: number | null | undefined): string {
  if (micros === null || micros === undefined) return '?';
  return new Date(Math.floor(micros / 1000)).toISOString().slice(11, 23);
}

export function dateTime(micros: number | null | undefined): string {
  if (micros === null || micros === undefined) return '?';
  return new Date(Math.floor(micros / 1000)).toISOString().replace('T', ' ').slice(0, 19);
}

export function duration(micros: number): string {
  const s = micros / 1e6;
  if (s < 1) return `${Math.round(micros / 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A session id's distinctive part: ids are `<UTC start>-<random>`, so the random part (the full id is in the tooltip). */
export function shortId(id: string): string {
  const tail = id.includes('-') ? id.slice(id.indexOf('-') + 1) : id;
  return tail.length > 18 ? `${tail.slice(0, 8)}…${tail.slice(-8)}` : tail;
}

/** Whether the integrity is the good case: intact and sealed. */
export function isIntact(s: { integrity: string; sealed: boolean }): boolean {
  return s.integrity === 'intact' && s.sealed;
}

export interface Filter {
  identity: string;
  target: string;
  /** µs bounds, or null. */
  from: number | null;
  to: number | null;
}

export const NO_FILTER: Filter = { identity: '', target: '', from: null, to: null };

export function matches(f: Filter, s: SessionRow): boolean {
  if (f.identity && s.identity !== f.identity && s.rootIdentity !== f.identity) return false;
  if (f.target && s.target !== f.target) return false;
  if (f.from !== null && (s.endMicros ?? s.startMicros ?? 0) < f.from) return false;
  if (f.to !== null && (s.startMicros ?? 0) > f.to) return false;
  return true;
}

export function isFiltered(f: Filter): boolean {
  return Boolean(f.identity || f.target || f.from !== null || f.to !== null);
}
