/**
 * The byte-level PostgreSQL protocol halves pg-protocol lacks: decoding what a
 * client sends, and writing what a server sends. For the other halves use
 * pg-protocol itself (`serialize` for client→server, its Parser for server→client).
 */
export {
  FrontendParser,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_SMALL_MESSAGE_SIZE,
  DEFAULT_MAX_AUTH_MESSAGE_SIZE,
  DEFAULT_MAX_STARTUP_MESSAGE_SIZE,
  type FrontendParserOptions,
  type FrontendMessageCallback,
} from './frontend-parser.js';
export { readPassword, readSaslInitial } from './frontend-decoder.js';
export { serializeBackend } from './backend-serializer.js';
export { serializeFrontendStartup, serializeCancelRequest, upstreamStartup, serializeQueryBytes, serializeParseBytes } from './frontend-serializer.js';
export {
  StartupCode,
  FrontendTag,
  BackendTag,
  type FrontendMessage,
  type FrontendMessageName,
  type StartupPhaseMessage,
  type TaggedFrontendMessage,
  type SSLRequestMessage,
  type GSSEncRequestMessage,
  type CancelRequestMessage,
  type StartupMessage,
  type QueryMessage,
  type SqlTextDecoder,
  type ParseMessage,
  type BindMessage,
  type DescribeMessage,
  type CloseMessage,
  type ExecuteMessage,
  type SyncMessage,
  type FlushMessage,
  type TerminateMessage,
  type CopyDataMessage,
  type CopyDoneMessage,
  type CopyFailMessage,
  type AuthResponseMessage,
  type FunctionCallMessage,
  type ProtocolViolationMessage,
  type FieldDescription,
  type NoticeFields,
  type TransactionStatus,
} from './messages.js';
