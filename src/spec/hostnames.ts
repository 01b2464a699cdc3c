/**
 * Host names and who owns them. Every host name a service answers at (its generated
 * `<service>.<env>.<domain>` and each of its `domains:`) belongs to exactly one service in one
 * environment. Names are compared in their normal form: lower case, without a trailing dot
 * (DNS is case-insensitive and `example.com.` is `example.com`).
 *
 * Used by the spec (domains:), the engine (ownership check before a deploy), the local runtime
 * (one owner per routed host), its proxy (Host matching) and the AWS provider (ALB host rules).
 */
import type { EnvironmentConfig } from './types.js';

/** The base domain of an environment's generated host names. */
export function environmentDomain(env: EnvironmentConfig): string {
  const domain = env.provider === 'aws' ? env.aws?.domain : env.local?.domain;
  return normalizeHostname(domain ?? 'localhost');
}

/** `Hello.Example.COM.` -> `hello.example.com`. Leaves anything else (ports, spaces) alone. */
export function normalizeHostname(host: string): string {
  let name = host.trim().toLowerCase();
  while (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

/**
 * The host name of a `Host` header or absolute-form authority, normalized, without its port;
 * an IPv6 literal keeps its brackets. Allocation-free when the header is already normal.
 */
export function hostOfHeader(header: string): string {
  let end = header.length;
  if (header.charCodeAt(0) !== 91 /* [ */) {
    const colon = header.lastIndexOf(':');
    if (colon >= 0) end = colon;
  } else {
    const close = header.indexOf(']');
    if (close >= 0) end = close + 1;
  }
  while (end > 0 && header.charCodeAt(end - 1) === 46 /* . */) end -= 1;
  let lower = true;
  for (let i = 0; i < end; i += 1) {
    const code = header.charCodeAt(i);
    if (code >= 65 && code <= 90) {
      lower = false;
      break;
    }
  }
  const host = end === header.length ? header : header.slice(0, end);
  return lower ? host : host.toLowerCase();
}

/** Who a host name belongs to. A route made outside berth (no berth tags) has env '' and its id as service. */
export interface HostnameOwner {
  env: string;
  service: string;
}

export function describeOwner(owner: HostnameOwner): string {
  return owner.env === ''
    ? `route ${owner.service}, made outside berth`
    : `service ${owner.service} in ${owner.env}`;
}

/**
 * The owner that berth's naming scheme reserves a host name for, when it is generated-looking:
 * `<service>.<env>.<domain>` (and anything under it) belongs to that service in that environment,
 * so no other service, in this environment or another, may list it in `domains:`. `<x>.<env>.<domain>`
 * is reserved for that environment even when the environment does not exist (yet).
 * Returns undefined for names outside `<domain>` (custom domains: first come, first served) and for
 * names one level under it (`shop.localhost`).
 */
export function reservedOwner(host: string, domain: string): HostnameOwner | undefined {
  const name = normalizeHostname(host);
  const base = normalizeHostname(domain);
  if (!name.endsWith(`.${base}`)) return undefined;
  const labels = name.slice(0, -(base.length + 1)).split('.');
  if (labels.length < 2) return undefined;
  return { env: labels[labels.length - 1]!, service: labels[labels.length - 2]! };
}

/** A host name a service claims, and who else holds it. */
export interface HostnameConflict {
  host: string;
  owner: HostnameOwner;
  /** Why the name is the owner's: it holds a route for it, or berth's naming scheme reserves it. */
  reason: 'holds' | 'reserved';
}

export function sameOwner(a: HostnameOwner, b: HostnameOwner): boolean {
  return a.env === b.env && a.service === b.service;
}

/** Why a conflicting name is not free: "it belongs to service hello in production". */
export function conflictReason(conflict: HostnameConflict): string {
  return conflict.reason === 'reserved'
    ? `it is reserved for ${describeOwner(conflict.owner)} (a <service>.<env>.<domain> name and every name under it belong to that service)`
    : `it belongs to ${describeOwner(conflict.owner)}`;
}

/** One line per conflict: "hello.production.localhost: it belongs to service hello in production". */
export function describeConflict(conflict: HostnameConflict): string {
  return `${conflict.host}: ${conflictReason(conflict)}`;
}
