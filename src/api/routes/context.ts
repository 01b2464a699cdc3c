import type { Actor } from '../../engine/guard.js';
import type { ControlPlane } from '../control-plane.js';
import type { Metrics } from '../metrics.js';
import type { StreamRegistry } from '../sse.js';
import type { Principal, TokenStore } from '../tokens.js';

/** What every route module works with. */
export interface ApiContext {
  plane: ControlPlane;
  tokens: TokenStore;
  streams: StreamRegistry;
  metrics: Metrics;
  version: string;
}

/** The audit actor for a request: the token's name, through the API. */
export function actorOf(principal: Principal): Actor {
  return { name: principal.name, interface: 'api' };
}
