// The gateway's admin API as the workbench's Gateway view sees it (gateway/admin/server.ts), and the
// local gateway the workbench starts in a child process. Types only.

/** A gateway reached by its admin URL, with a token the user gave. */
export interface RemoteGateway {
  url: string;
  /** The admin bearer token (sessions, revocations) or an approver's token (approvals). */
  token: string;
}

/**
 * The local gateway, by the id of its run (LocalGatewayStatus.id): the backend holds its admin token
 * and issues the approver's token itself, so neither reaches the page.
 */
export interface LocalGatewayRef {
  local: string;
  /** The approver identity (approver: true in its config) to decide approvals as. */
  approver?: string;
}

export type GatewayTarget = RemoteGateway | LocalGatewayRef;

export interface GatewaySession {
  id: string;
  identity: string;
  target: string;
  protocol: string;
  /** The gateway holding it, when the gateway is a member of a fleet (its listing covers every gateway). */
  gateway?: string;
  [key: string]: unknown;
}

/** What the gateway refuses (GET /revocations): an identity (every login of it) or a token id (it and its hop tokens), until un-revoked. */
export interface GatewayRevocation {
  identity?: string;
  tokenId?: string;
  /** When it was revoked: seconds since the epoch, and as an ISO string. */
  at: number;
  revokedAt: string;
  /** Who revoked it (`admin` for the admin API, `cli` when the CLI wrote keys.dir itself). */
  by?: string;
}

export interface GatewayApproval {
  id: string;
  identity: string;
  session: string;
  target: string;
  operation: string;
  requestedAt: string;
  /** The gateway holding the statement, in a fleet; deciding it works through any gateway of the fleet. */
  gateway?: string;
}

/** One gateway of a fleet as the control plane knows it (GET /fleet). */
export interface FleetGateway {
  name: string;
  /** The id of the key it signs tokens and recordings with. */
  keyId: string;
  adminUrl: string;
  host: string;
  pid: number;
  startedAt: string;
  /** Its last heartbeat (the control plane's clock), ISO. */
  heartbeatAt: string;
  state: 'live' | 'stopped' | 'crashed';
  /** Live and heartbeating within its lease. */
  healthy: boolean;
  /** Its live sessions. */
  sessions: number;
}

/**
 * A fleet as one of its gateways sees it (GET /fleet): `self` is the gateway asked, `state` its link to the
 * control plane (up, down, catching-up). Absent (null) for a gateway that is not a member of a fleet.
 */
export interface FleetStatus {
  self: string;
  state: string;
  gateways: FleetGateway[];
  sessions: GatewaySession[];
  approvals: GatewayApproval[];
}

/**
 * The gateway the workbench started from a config file (`hopscope gateway --config FILE` in its own
 * process group: it keeps running if the workbench dies; Stop sends SIGTERM, which seals recordings).
 * `starting` until it reports its listeners; `failed` when it exited before that or with an error.
 */
export interface LocalGatewayStatus {
  state: 'none' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
  /** This run's id, for LocalGatewayRef; null when none ran. */
  id: string | null;
  configPath: string | null;
  pid: number | null;
  /** Started by an earlier workbench and found still running. */
  adopted: boolean;
  startedAt: string | null;
  listeners: { postgres?: string; ssh?: string };
  adminUrl: string | null;
  recordingsDir: string | null;
  /** The identities its config lets approve. */
  approvers: string[];
  /** What its keys.dir/revocations.json revokes now (read from the file, so also when it is not running). */
  revocations: GatewayRevocation[];
  exitCode: number | null;
  signal: string | null;
  /** Why it failed or stopped, in the gateway's own words. */
  message: string | null;
  /** The last lines it wrote to stderr, and where the whole log is. */
  logTail: string[];
  logFile: string | null;
}
