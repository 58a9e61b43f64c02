/**
 * Types of the PostgreSQL wire protocol halves that pg-protocol lacks: messages a
 * client sends (decoded by FrontendParser) and the fields of messages a server
 * sends (written by backend-serializer.ts).
 * https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Codes of the untagged startup-phase packets (the Int32 after the length). */
export const StartupCode = {
  /** 1234.5679 */
  SSLRequest: 80877103,
  /** 1234.5680 */
  GSSENCRequest: 80877104,
  /** 1234.5678 */
  CancelRequest: 80877102,
  /** Protocol 3.0; a StartupMessage's code is its protocol version. */
  Protocol30: 196608,
  /** Protocol 3.2 (PostgreSQL 18): longer cancel keys. */
  Protocol32: 196610,
} as const;

/** Tags of the client→server messages after startup. */
export const FrontendTag = {
  Bind: 0x42, // B
  Close: 0x43, // C
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  Describe: 0x44, // D
  Execute: 0x45, // E
  FunctionCall: 0x46, // F
  CopyFail: 0x66, // f
  Flush: 0x48, // H
  Parse: 0x50, // P
  AuthResponse: 0x70, // p: PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse
  Query: 0x51, // Q
  Sync: 0x53, // S
  Terminate: 0x58, // X
} as const;

/** Tags of the server→client messages backend-serializer.ts writes. */
export const BackendTag = {
  Authentication: 0x52, // R
  BackendKeyData: 0x4b, // K
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  EmptyQueryResponse: 0x49, // I
  ErrorResponse: 0x45, // E
  NegotiateProtocolVersion: 0x76, // v
  NoData: 0x6e, // n
  NoticeResponse: 0x4e, // N
  ParameterDescription: 0x74, // t
  ParameterStatus: 0x53, // S
  ParseComplete: 0x31, // 1
  PortalSuspended: 0x73, // s
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
} as const;

/**
 * Every decoded frame. `length` is the frame's Int32 length field as sent (like
 * pg-protocol): it counts itself but not the tag, so `raw.length` is `length + 1`
 * for tagged messages and `length` for startup packets. `raw` is the whole frame,
 * header included, for forwarding unchanged; see FrontendParser for who owns it.
 */
interface Frame {
  readonly length: number;
  readonly raw: Buffer;
}

export interface SSLRequestMessage extends Frame { readonly name: 'sslRequest' }
export interface GSSEncRequestMessage extends Frame { readonly name: 'gssEncRequest' }

export interface CancelRequestMessage extends Frame {
  readonly name: 'cancelRequest';
  readonly processID: number;
  /** 4 bytes, or up to 256 bytes with protocol 3.2. */
  readonly secretKey: Buffer;
}

export interface StartupMessage extends Frame {
  readonly name: 'startupMessage';
  /** e.g. 196608 (3.0) or 196610 (3.2) */
  readonly protocolVersion: number;
  readonly majorVersion: number;
  readonly minorVersion: number;
  /** Null-prototype object, so a client's `__proto__` key is just a key. Later duplicates win, as in PostgreSQL. */
  readonly parameters: Record<string, string>;
}

/**
 * Decodes a SQL text's bytes in the session's client encoding; undefined when
 * they are not valid in it. The parser reads UTF-8 until its owner sets one.
 */
export type SqlTextDecoder = (bytes: Buffer) => string | undefined;

export interface QueryMessage extends Frame {
  readonly name: 'query';
  readonly sql: string;
  /** The bytes are not valid in the session's client encoding; `sql` is then a lossy UTF-8 reading, for the record only. */
  readonly undecodable?: true;
}

export interface ParseMessage extends Frame {
  readonly name: 'parse';
  /** Prepared statement name; '' is the unnamed statement. */
  readonly statement: string;
  readonly sql: string;
  /** As in QueryMessage. */
  readonly undecodable?: true;
  /** Parameter type OIDs (unsigned); 0 leaves the type unspecified. */
  readonly paramTypes: number[];
}

export interface BindMessage extends Frame {
  readonly name: 'bind';
  readonly portal: string;
  readonly statement: string;
  /** 0 = text, 1 = binary; none = all text, one = applies to all. Not checked here. */
  readonly paramFormats: number[];
  /** Parameter bytes as sent (subarrays, not copies); null is SQL NULL. */
  readonly params: (Buffer | null)[];
  readonly resultFormats: number[];
}

export interface DescribeMessage extends Frame {
  readonly name: 'describe';
  /** 'S' statement, 'P' portal */
  readonly kind: 'S' | 'P';
  readonly objectName: string;
}

export interface CloseMessage extends Frame {
  readonly name: 'close';
  readonly kind: 'S' | 'P';
  readonly objectName: string;
}

export interface ExecuteMessage extends Frame {
  readonly name: 'execute';
  readonly portal: string;
  /** Read as signed Int32, as PostgreSQL does: 0 (or less) means no limit. */
  readonly maxRows: number;
}

export interface SyncMessage extends Frame { readonly name: 'sync' }
export interface FlushMessage extends Frame { readonly name: 'flush' }
export interface TerminateMessage extends Frame { readonly name: 'terminate' }
export interface CopyDataMessage extends Frame { readonly name: 'copyData'; readonly data: Buffer }
export interface CopyDoneMessage extends Frame { readonly name: 'copyDone' }
export interface CopyFailMessage extends Frame { readonly name: 'copyFail'; readonly message: string }

/**
 * 'p': which of PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse
 * it is depends on the authentication request the server sent, which the parser
 * does not know; read it with readPassword / readSaslInitial or use body as is.
 */
export interface AuthResponseMessage extends Frame { readonly name: 'authResponse'; readonly body: Buffer }

/** Kept raw: the gateway forwards or refuses it, it never needs its fields. */
export interface FunctionCallMessage extends Frame { readonly name: 'functionCall'; readonly body: Buffer }

/**
 * Emitted once, instead of throwing, when input breaks the protocol; the parser
 * then ignores all further input. `code` matches common/errors.ts' ErrorCode and
 * `sqlState` is PostgreSQL's protocol_violation, for the ErrorResponse to send.
 * `length` is the declared length when the header was read, else 0.
 */
export interface ProtocolViolationMessage {
  readonly name: 'error';
  readonly code: 'PROTOCOL_VIOLATION';
  readonly sqlState: '08P01';
  readonly message: string;
  readonly length: number;
}

export type StartupPhaseMessage = SSLRequestMessage | GSSEncRequestMessage | CancelRequestMessage | StartupMessage;

export type TaggedFrontendMessage =
  | QueryMessage
  | ParseMessage
  | BindMessage
  | DescribeMessage
  | ExecuteMessage
  | SyncMessage
  | FlushMessage
  | CloseMessage
  | CopyDataMessage
  | CopyDoneMessage
  | CopyFailMessage
  | TerminateMessage
  | AuthResponseMessage
  | FunctionCallMessage;

export type FrontendMessage = StartupPhaseMessage | TaggedFrontendMessage | ProtocolViolationMessage;

export type FrontendMessageName = FrontendMessage['name'];

/** Same shape as pg-protocol's Field, so its RowDescription fields serialize as they are. */
export interface FieldDescription {
  readonly name: string;
  readonly tableID: number;
  readonly columnID: number;
  readonly dataTypeID: number;
  readonly dataTypeSize: number;
  readonly dataTypeModifier: number;
  readonly format: 'text' | 'binary';
}

/**
 * ErrorResponse / NoticeResponse fields. `severity` is the non-localized one
 * (ERROR, FATAL, PANIC, WARNING, NOTICE, DEBUG, INFO, LOG) and is written as 'V';
 * 'S' gets `localizedSeverity` or, by default, the same text.
 */
export interface NoticeFields {
  severity: string;
  /** SQLSTATE, five characters */
  code: string;
  message: string;
  localizedSeverity?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

export type TransactionStatus = 'I' | 'T' | 'E';
