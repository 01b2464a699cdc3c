/** Small formatting helpers: ages, durations, environment colours. */

export function age(fromIso: string | null, now: number): string {
  if (!fromIso) return '-';
  const seconds = Math.max(0, Math.round((now - Date.parse(fromIso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86400)
    return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function duration(startIso: string | null, endIso: string | null, now: number): string {
  if (!startIso) return '';
  const ms = Math.max(0, (endIso ? Date.parse(endIso) : now) - Date.parse(startIso));
  return ms < 1000
    ? `${ms}ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)}s`
      : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** A time as HH:MM:SS (local) with the full UTC time in its title. */
export function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour12: false });
}

const NAMED: Record<string, string> = {
  green: '#1a7f37',
  yellow: '#9a6700',
  orange: '#bc4c00',
  red: '#cf222e',
  blue: '#0969da',
  cyan: '#1b7c83',
  magenta: '#bf3989',
  purple: '#8250df',
  gray: '#57606a',
  grey: '#57606a',
  white: '#57606a',
  black: '#24292f',
};

/** The environment's display colour as a CSS colour (unknown names fall back to grey). */
export function envColor(color: string): string {
  const lower = color.toLowerCase();
  if (NAMED[lower]) return NAMED[lower];
  return /^#[0-9a-f]{3,8}$/.test(lower) ? lower : NAMED.gray!;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
