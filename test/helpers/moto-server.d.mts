export interface MotoServer {
  endpoint: string;
  port: number;
  pid: number | undefined;
  /** Wipes every account's state. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number>;
export const MOTO_LAUNCHER: string;
export function startMotoServer(options?: {
  env?: Record<string, string>;
  timeoutMs?: number;
  python?: string;
}): Promise<MotoServer>;
