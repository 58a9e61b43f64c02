export { RecordingWriter, newSessionId, type FsyncPolicy, type WriterOptions } from './writer.js';
export { AuditLog, type Refusal } from './audit.js';
