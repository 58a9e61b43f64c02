/**
 * The words every reader (CLI verify/import/show, the case file, the workbench,
 * exports) uses for what a recording proves. One word per state, one meaning each.
 */
export const INTEGRITY_STATES = [
  'intact', 'recovered', 'unverified', 'tampered', 'missing', 'unlisted', 'unknown-key', 'invalid',
] as const;
export type IntegrityState = (typeof INTEGRITY_STATES)[number];

/**
 * What one file, read on its own, can prove (the verifier's verdict). `missing`
 * and `unlisted` need the gateway's journal of sessions, so only a folder has them.
 */
export type IntegrityStatus = Exclude<IntegrityState, 'missing' | 'unlisted'>;

export const INTEGRITY_DESCRIPTIONS: Readonly<Record<IntegrityState, string>> = {
  intact: 'intact and sealed: every event is chained and covered by a valid signature, and the journal confirms its final hash',
  recovered: 'recovered after a crash: the gateway died mid-session; on restart it checked the file and signed that the events up to seq N are all there were',
  unverified: 'unverified tail: events after the last valid signature (unsealed, cut short, or not confirmed by the journal) are not proven to be what the gateway wrote',
  tampered: 'tampered at seq N: a hash link or a signature is broken; events past the break are not evidence',
  missing: 'missing: the journal lists this session, but its file is absent',
  unlisted: 'unlisted: no journal lists this session (fabricated, or written by another gateway)',
  'unknown-key': 'unknown key: signed by a key that is not among the trusted keys',
  invalid: 'invalid: not a hopscope recording (or a format version this reader does not know)',
};

/** Only these two let a file count as evidence with nothing left to check. */
export function isTrustworthy(state: IntegrityState | string | null | undefined): boolean {
  return state === 'intact' || state === 'recovered';
}
