import type { FleetStatus, GatewayApproval, GatewayRevocation, GatewaySession, RemoteGateway } from '../../common/api/index.js';
import { ApiError } from '../common/contract.js';

/**
 * The gateway's admin API (gateway/admin/server.ts) as the Gateway view uses
 * it: the backend calls it, so the page never holds a cross-origin token and
 * the CSP keeps `connect-src 'self'`. A local gateway's target is resolved to
 * its URL and token by LocalGateway first.
 */
export class GatewayClient {
  constructor(private readonly fetchFn: typeof fetch) {}

  sessions(g: RemoteGateway): Promise<GatewaySession[]> {
    return this.call<GatewaySession[]>(g, 'GET', '/sessions');
  }

  approvals(g: RemoteGateway): Promise<GatewayApproval[]> {
    return this.call<GatewayApproval[]>(g, 'GET', '/approvals');
  }

  /**
   * GET /fleet (admin token): null when the gateway answers 404, i.e. it is not a member of a fleet. An answer
   * without a list of gateways is refused rather than drawn half (a gateway of another version, a proxy's page).
   */
  async fleet(g: RemoteGateway): Promise<FleetStatus | null> {
    const answer = await this.call<Partial<FleetStatus> | null>(g, 'GET', '/fleet', undefined, { notFound: null });
    if (answer === null) return null;
    if (!answer || typeof answer.self !== 'string' || !Array.isArray(answer.gateways)) {
      throw new ApiError('GATEWAY_ERROR', 'the gateway\'s answer to GET /fleet is not a fleet status');
    }
    return {
      self: answer.self, state: String(answer.state ?? 'unknown'), gateways: answer.gateways,
      sessions: Array.isArray(answer.sessions) ? answer.sessions : [], approvals: Array.isArray(answer.approvals) ? answer.approvals : [],
    };
  }

  async decide(g: RemoteGateway, id: string, decision: 'approve' | 'deny', reason: string): Promise<{ ok: true }> {
    await this.call(g, 'POST', `/approvals/${encodeURIComponent(id)}/${decision}`, reason ? { reason } : {});
    return { ok: true };
  }

  async revoke(g: RemoteGateway, by: 'identity' | 'tokenId', value: string): Promise<{ ok: true }> {
    await this.call(g, 'POST', '/revocations', { [by]: value });
    return { ok: true };
  }

  /** DELETE /revocations/identity/NAME or /revocations/token/ID; the gateway answers 404 when it is not revoked. */
  async unrevoke(g: RemoteGateway, by: 'identity' | 'tokenId', value: string): Promise<{ lifted: GatewayRevocation[] }> {
    const answer = await this.call<{ lifted?: GatewayRevocation[] }>(g, 'DELETE', `/revocations/${by === 'identity' ? 'identity' : 'token'}/${encodeURIComponent(value)}`);
    return { lifted: Array.isArray(answer?.lifted) ? answer.lifted : [] };
  }

  /** `notFound`: what a 404 means for this call (a lone gateway's /fleet), instead of an error. */
  private async call<T>(g: RemoteGateway, method: string, path: string, body?: unknown, opts: { notFound?: T } = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(new URL(path, g.url.endsWith('/') ? g.url : `${g.url}/`), {
        method,
        // x-hopscope-via: the gateway records it beside the actor of a revocation or its lift (a label, not a credential).
        headers: { authorization: `Bearer ${g.token}`, 'x-hopscope-via': 'workbench', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new ApiError('GATEWAY_UNREACHABLE', `cannot reach the gateway at ${g.url}: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 404 && 'notFound' in opts) return opts.notFound as T;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!res.ok) {
      const message = (parsed as { error?: unknown } | null)?.error;
      throw new ApiError(res.status === 401 || res.status === 403 ? 'GATEWAY_REFUSED' : 'GATEWAY_ERROR',
        `the gateway answered ${res.status}${typeof message === 'string' ? `: ${message}` : ''}`);
    }
    return parsed as T;
  }
}
