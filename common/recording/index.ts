export { RecordingEncoder, lineHash, type EncoderOptions } from './encoder.js';
export {
  EventType, RECORDING_FORMAT, RECORDING_VERSION, RECORDING_VERSIONS, RecordingEvent, RecordingHeader, signedText,
  type EventTypeName,
} from './format.js';
export { MAX_FINDINGS, RecordingVerifier, type Finding, type FindingKind, type IntegrityStatus, type VerifiedLine, type VerifyReport } from './verify.js';
export { readRecordingBatches, readRecordingLines, verifyRecordingFile, type ReadOptions, type RecordingLine } from './read.js';
