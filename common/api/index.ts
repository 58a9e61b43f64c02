import type { CaseAnswers } from './answers.js';
import type { ChainTimeline } from './timeline.js';
/**
 * The one typed API between the workbench UI (renderer/) and its backend: over
 * IPC in Electron (electron/preload.ts → electron/ipc.ts) and over HTTP on
 * 127.0.0.1 in the browser mode (workbench/node/web-server.ts). Types only: the renderer
 * imports this and nothing else of the project, and it imports nothing.
 * Times are microseconds since the epoch (numbers), with ISO strings beside them.
 */
import type {
  FleetGateway, FleetStatus, GatewayApproval, GatewayRevocation, GatewaySession, GatewayTarget, LocalGatewayRef, LocalGatewayStatus, RemoteGateway,
} from './gateway.js';

export type { FleetGateway, FleetStatus, GatewayApproval, GatewayRevocation, GatewaySession, GatewayTarget, LocalGatewayRef, LocalGatewayStatus, RemoteGateway };

/** The verifier's status of a recording (common/recording): intact, unsealed, truncated, unknown-key, tampered, invalid. */
export type Integrity = string;

export interface CaseInfo {
  /** The case file on the backend's disk; null when none is open yet. */
  path: string | null;
  sessions: number;
  files: number;
  events: number;
}

export interface FileFinding {
  kind: string;
  line: number | null;
  seq: number | null;
  message: string;
}

/** One imported recording file: its chain-of-custody facts and integrity. */
export interface CaseFileEntry {
  path: string;
  sha256: string;
  size: number;
  importedAt: string;
  session: string | null;
  protocol: string | null;
  integrity: Integrity;
  sealed: boolean;
  keyTrusted: boolean;
  events: number;
  findings: FileFinding[];
}

export interface ImportResult {
  path: string;
  /** `missing`: a session the folder's journal lists whose file is not there. */
  action: 'imported' | 'unchanged' | 'conflict' | 'rejected' | 'failed' | 'missing';
  session: string | null;
  integrity: Integrity | null;
  sealed: boolean;
  events: number;
  message: string | null;
}

/** An import running in the backend; polled with `importStatus` for its progress. */
export interface ImportJob {
  id: string;
  state: 'running' | 'done' | 'failed';
  filesTotal: number;
  filesDone: number;
  current: string | null;
  bytesRead: number;
  bytesTotal: number;
  events: number;
  results: ImportResult[];
  message: string | null;
}

/** A recording picked or dropped in the browser: its name and its text (recordings are JSON lines). */
export interface UploadFile {
  name: string;
  text: string;
}

export interface HopCounts {
  statements: number;
  commands: number;
  errors: number;
  blocked: number;
  held: number;
  approved: number;
  /** Held operations an approver denied (timeouts apart, in timedOut). */
  denied: number;
  /** Held operations nobody decided in time. Optional: older producers count them in denied. */
  timedOut?: number;
  maskedValues: number;
  unmaskedSensitive: number;
}

/** A session as the forensic store lists it (forensics/store). */
export interface SessionSummary {
  id: string;
  parent: string | null;
  linkKind: string | null;
  rootIdentity: string | null;
  identity: string | null;
  target: string | null;
  protocol: string;
  /** ISO 8601 with microseconds. */
  start: string | null;
  end: string | null;
  integrity: Integrity;
  depth: number;
  startMicros: number | null;
  endMicros: number | null;
  sealed: boolean;
  endReason: string | null;
}

/** A session (one hop) as listed, graphed and searched. */
export interface SessionRow extends SessionSummary {
  inferred: boolean;
  revoked: boolean;
  counts: HopCounts;
}

export interface SessionQuery {
  /** Full text over commands and SQL (FTS5); words are matched as prefixes. */
  text?: string;
}

export interface TextMatch {
  session: string;
  seq: number;
  kind: string;
  text: string;
}

export interface SessionSearch {
  sessions: SessionRow[];
  /** With `text`: the statements that matched (the first 500). */
  matches: TextMatch[];
}

export interface GraphLink {
  from: string;
  to: string;
  kind: string; // hop-token (proven) | token-reuse | address-time (inferred) | …
  inferred: boolean;
  evidence: unknown;
  parentMissing: boolean;
}

export interface GraphData {
  identities: string[];
  hops: SessionRow[];
  links: GraphLink[];
}

export interface MaskNote {
  field: string;
  rule: string | null;
  masked: boolean;
  count: number;
}

export interface PolicyStep {
  seq: number;
  t: number;
  action: string;
  rule: string | null;
  approvalId: string | null;
  actor: string | null;
  message: string | null;
}

export interface Response {
  seq: number;
  t: number;
  /** `event`: anything else recorded on the row's watch (session end, resize, a signal, a forward…), `summary` naming it. */
  kind: 'result' | 'error' | 'notice' | 'output' | 'exit' | 'event';
  /** `SELECT 2`, an error code, an exit status. */
  summary: string;
  columns?: string[];
  rows?: string[][];
  rowCount?: number;
  /** Output text (terminal escapes removed), or an error/notice message. */
  text?: string;
  truncated?: boolean;
  /** A result's time at the server, as the gateway measured it. */
  durationMicros?: number;
  /** A result's rows kept in the recording, when fewer than it returned. */
  rowsRecorded?: number;
  /** Output gathered from several events: the last one's seq (`seq` is the first's). */
  lastSeq?: number;
}

/** A command or statement and what came back: one row of the hop view. */
export interface Exchange {
  seq: number;
  t: number;
  kind: string; // sql | exec | line | sftp | session
  text: string;
  /** What the text alone does not say: an execute's parameters, a line only approximately read back. */
  note?: string;
  responses: Response[];
  policy: PolicyStep[];
  masked: MaskNote[];
}

export interface Marker {
  t: number;
  seq: number;
  kind: 'command' | 'block' | 'held' | 'approved' | 'denied' | 'timeout' | 'revoked' | 'child';
  label: string;
  /** For a child marker: the child session. */
  session?: string;
}

/** Every row of a hop view in order, without texts or responses (parallel lists): enough for the timeline and the scroll bar. */
export interface ExchangeIndex {
  seq: number[];
  t: number[];
  kind: string[];
}

/** Rows of a hop view from a seq on; `nextSeq` is where the following page starts (null: the hop ends here). */
export interface ExchangePage {
  exchanges: Exchange[];
  nextSeq: number | null;
}

export interface HopDetail {
  session: SessionRow;
  link: GraphLink | null;
  file: { path: string; sha256: string; integrity: Integrity; sealed: boolean } | null;
  children: SessionRow[];
  /** Every row of the hop (its commands, statements and the session start). */
  index: ExchangeIndex;
  /** The first page of rows in full; the others come with `hopExchanges`. */
  exchanges: Exchange[];
  nextSeq: number | null;
  /** Every command (labelled with its kind only: the text is in its row), policy step and child hop. */
  markers: Marker[];
  /** An SSH session with terminal output: its size at the start. */
  terminal: { cols: number; rows: number } | null;
}

export interface Screen {
  session: string;
  time: number;
  seq: number;
  t: number;
  cols: number;
  rows: number;
  lines: string[];
  /** Escape sequences that rebuild the screen on a fresh terminal of that size. */
  serialized: string;
}

export interface TerminalChunk {
  seq: number;
  t: number;
  /** Terminal bytes, base64 (output), or a new size (resize). */
  data?: string;
  cols?: number;
  rows?: number;
}

export interface TerminalChunks {
  chunks: TerminalChunk[];
  /** No terminal events after the last chunk. */
  done: boolean;
  /** Where the next call starts (`afterSeq`). */
  nextSeq: number;
}

/** Every export format of the forensic store (forensics/export), in the order the UI offers them. */
export const EXPORT_FORMATS = ['timesketch', 'csv', 'jsonl', 'ocsf', 'asciicast', 'html'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRequest {
  format: ExportFormat;
  /** The current filter: these sessions only (all when absent or empty). */
  sessions?: string[];
}

export interface ExportResult {
  fileName: string;
  records: number;
  bytes: number;
  /** Browser mode: where to download it (same origin, secret included). */
  href?: string;
  /** Electron: where it was saved; absent when the user cancelled. */
  savedTo?: string;
}

/** What the UI can ask of its backend. Every method is one IPC channel and one HTTP route. */
export interface WorkbenchApi {
  caseInfo(): Promise<CaseInfo>;
  openCase(path: string): Promise<CaseInfo>;
  files(): Promise<CaseFileEntry[]>;
  importPaths(paths: string[]): Promise<ImportJob>;
  importUpload(files: UploadFile[]): Promise<ImportJob>;
  importStatus(id: string): Promise<ImportJob>;
  sessions(query: SessionQuery): Promise<SessionSearch>;
  graph(): Promise<GraphData>;
  /** The incident's answers for the whole case, or for the chain that holds `session`. */
  answers(session: string | null): Promise<CaseAnswers>;
  /** Every command, statement, policy step and revocation of the case, or of the chain that holds `session`, in time order. */
  chainTimeline(session: string | null): Promise<ChainTimeline>;
  /** Opens a hop: its index, markers and first page of rows. */
  hop(session: string): Promise<HopDetail>;
  /** Up to `limit` rows of a hop from the row at `fromSeq` (a seq of the hop's index). */
  hopExchanges(session: string, fromSeq: number, limit: number): Promise<ExchangePage>;
  screenAt(session: string, time: number): Promise<Screen>;
  terminalEvents(session: string, afterSeq: number, limit: number): Promise<TerminalChunks>;
  exportCase(request: ExportRequest): Promise<ExportResult>;
  gatewaySessions(target: GatewayTarget): Promise<GatewaySession[]>;
  gatewayApprovals(target: GatewayTarget): Promise<GatewayApproval[]>;
  /** The fleet the gateway belongs to (GET /fleet, admin token): its gateways and their health, every live session and held operation; null for a lone gateway. */
  gatewayFleet(target: GatewayTarget): Promise<FleetStatus | null>;
  gatewayDecide(target: GatewayTarget, id: string, decision: 'approve' | 'deny', reason: string): Promise<{ ok: true }>;
  gatewayRevoke(target: GatewayTarget, by: 'identity' | 'tokenId', value: string): Promise<{ ok: true }>;
  /** Lifts a revocation through the running gateway (admin API, recorded in its audit with the actor): what was lifted; an error when it was not revoked. */
  gatewayUnrevoke(target: GatewayTarget, by: 'identity' | 'tokenId', value: string): Promise<{ lifted: GatewayRevocation[] }>;
  /** Starts `hopscope gateway --config FILE` in a child process; resolves once it listens, fails or keeps starting. */
  localGatewayStart(configPath: string): Promise<LocalGatewayStatus>;
  localGatewayStatus(): Promise<LocalGatewayStatus>;
  /** SIGTERM: the gateway ends its sessions and seals their recordings; resolves once it exited (or is still stopping). */
  localGatewayStop(): Promise<LocalGatewayStatus>;
  /** Imports the local gateway's recording.dir into the open case, trusting its signing key. */
  localGatewayImport(): Promise<ImportJob>;
}

export type ApiMethod = keyof WorkbenchApi;

/** What crosses the wire: a value, or an error with a stable code and a sentence for the user. */
export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: { code: string; message: string } };

/** What the Electron preload exposes as `window.hopscope`: one method per channel, results enveloped, the main process's events and its native dialogs. */
export type WorkbenchBridge = {
  [K in ApiMethod]: (...args: Parameters<WorkbenchApi[K]>) => Promise<ApiResult<Awaited<ReturnType<WorkbenchApi[K]>>>>;
} & WorkbenchEvents & WorkbenchDesktop;

/** Notifications from the Electron main process; each returns its unsubscribe. A listener gets nothing but what its event names (checked in the preload). */
export interface WorkbenchEvents {
  /** The case changed outside the page (File › Import Recordings… in the menu): refresh files, sessions and the graph. */
  onCaseChanged(listener: () => void): () => void;
  /** An import started outside the page (the menu): its job id, to follow with `importStatus`. */
  onImportStarted(listener: (jobId: string) => void): () => void;
}

/** Electron only (not HTTP routes: the browser mode has no native UI): the main process's dialogs. */
export interface WorkbenchDesktop {
  /** A native open dialog for the local gateway's config file: its path, or null when the user cancelled. */
  chooseGatewayConfig(): Promise<ApiResult<string | null>>;
}

export type { ChainFacts, RevocationFact } from './evidence.js';
export type { CaseAnswers } from './answers.js';
export type { ChainTimeline, ChainTimelineRow, TimelineKind } from './timeline.js';
