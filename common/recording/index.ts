export { RecordingEncoder, lineHash, type EncoderOptions } from './encoder.js';
export {
  EventType, RECORDING_FORMAT, RECORDING_VERSION, RECORDING_VERSIONS, RecordingEvent, RecordingHeader, signedText,
  type EventTypeName,
} from './format.js';
export { MAX_FINDINGS, RecordingVerifier, type Finding, type FindingKind, type VerifiedLine, type VerifyReport } from './verify.js';
export type { IntegrityStatus } from './integrity.js';
export { readRecordingBatches, readRecordingLines, verifyRecordingFile, type ReadOptions, type RecordingLine } from './read.js';
export { END_CAUSES, EndCause, EventSchemas, MaskNote, type EventMap, type EventName } from './events.js';
export { CURRENT_EVENTS_VERSION, decodeEvent, type DecodedEvent, type InvalidEvent, type KnownEvent, type UnknownEvent } from './decode.js';
export { fastCheck } from './fast-check.js';
export { INTEGRITY_DESCRIPTIONS, INTEGRITY_STATES, isTrustworthy, type IntegrityState } from './integrity.js';
export {
  JOURNAL_FILE, JOURNAL_FORMAT, verifyJournalText, type JournalEntry, type JournalFinding, type JournalReport, type JournalSession,
} from './journal.js';
export { FolderCheck, judgeFile, missingFrom, readFolderJournal, type FileFacts, type JournalState, type JournalVerdict } from './folder.js';
