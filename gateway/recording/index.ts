export { RecordingWriter, SIGN_WITHIN_MS, attachJournal, newSessionId, type FsyncPolicy, type JournalHooks, type WriterOptions } from './writer.js';
export { SessionJournal } from './journal.js';
export { recoverCrashedSessions, type RecoveryResult } from './recovery.js';
export { AuditLog, type Refusal } from './audit.js';
