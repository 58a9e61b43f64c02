import type { Clock } from '../common/clock.js';
import type { Signer } from '../common/keys.js';
import type { LoadedConfig } from './config.js';

export interface StartOptions {
  clock?: Clock;
}

export interface RunningGateway {
  readonly postgres: { host: string; port: number } | undefined;
  readonly admin: { host: string; port: number; url: string; token: string };
  readonly signer: Signer;
  /** Stops accepting, ends live sessions, seals their recordings. */
  stop(): Promise<void>;
}

export async function startGateway(_config: LoadedConfig, _opts: StartOptions = {}): Promise<RunningGateway> {
  throw new Error('not yet');
}
