export { createSshListener, type SshListenerDeps } from './listener.js';
export { HOST_KEY_FILE, loadOrCreateHostKey } from './hostkey.js';
export { decodeRecordedBytes, type RecordedBytes } from './bytes.js';
