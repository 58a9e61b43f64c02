// The gateway's admin API as the workbench's Gateway view sees it (gateway/admin/server.ts). Types only.

export interface GatewayTarget {
  url: string;
  /** The admin bearer token (sessions, revocations) or an approver's token (approvals). */
  token: string;
}

export interface GatewaySession {
  id: string;
  identity: string;
  target: string;
  protocol: string;
  [key: string]: unknown;
}

export interface GatewayApproval {
  id: string;
  identity: string;
  session: string;
  target: string;
  operation: string;
  requestedAt: string;
}
