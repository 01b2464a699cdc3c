/**
 * Turning validation problems into Diagnostics: one per problem, each with a dotted path, a plain
 * message, a hint and (when a source is known) a line. Shared by berth.yaml and berth.config.yaml.
 */
import type * as z from 'zod';

import { closest } from './suggest.js';
import type { Diagnostic } from './types.js';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];
export type LineOf = (path: PathSegment[]) => number | undefined;

/** How to describe one field when its value is wrong: what it must be, and what to do about it. */
export interface FieldRule {
  message: string;
  hint?: string | ((value: unknown) => string | undefined);
}

/** What a custom (hand-written) check attaches to its zod issue. */
export interface IssueParams {
  hint?: string;
}

export interface IssueContext {
  /** The document that was validated, to show the offending value. */
  raw: unknown;
  /** The rule for a field path, if any. */
  ruleFor: (path: Path) => FieldRule | undefined;
  /** The keys accepted in the mapping at `objectPath` (for unknown-key suggestions). */
  knownKeysAt: (objectPath: Path) => readonly string[];
  /** A specific hint for an unknown key (e.g. a key that belongs in another block). */
  unknownKeyHint?: (objectPath: Path, key: string) => string | undefined;
  lineOf?: LineOf;
}

export function dotted(path: Path): string {
  return path.map(String).join('.');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** `table[key]` when it is the table's own entry (never one inherited from Object.prototype). */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The value at `path` inside `raw`, or undefined. */
export function valueAt(raw: unknown, path: Path): unknown {
  let current = raw;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isPlainObject(current) && Object.hasOwn(current, segment)) current = current[segment];
    else return undefined;
  }
  return current;
}

/** A short, safe rendering of a value for messages: `"abc"`, `42`, `a list`, `a mapping`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  return typeof value;
}

export function makeDiagnostic(
  severity: Diagnostic['severity'],
  path: Path,
  message: string,
  hint: string | undefined,
  lineOf: LineOf | undefined,
): Diagnostic {
  const diagnostic: Diagnostic = { severity, path: dotted(path), message };
  if (hint) diagnostic.hint = hint;
  const line = lineOf?.([...path]);
  if (line !== undefined) diagnostic.line = line;
  return diagnostic;
}

/** Looks up a rule by path in a table whose keys are dotted patterns where `*` matches one segment. */
export function matchRule(table: Readonly<Record<string, FieldRule>>, path: Path): FieldRule | undefined {
  const exact = own(table, dotted(path));
  if (exact) return exact;
  for (const [pattern, rule] of Object.entries(table)) {
    const parts = pattern.split('.');
    if (parts.length === path.length && parts.every((part, i) => part === '*' || part === String(path[i]))) {
      return rule;
    }
  }
  return undefined;
}

/** Converts zod issues into diagnostics: unknown keys get "did you mean", everything else its field rule. */
export function issuesToDiagnostics(
  issues: readonly z.core.$ZodIssue[],
  context: IssueContext,
): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const issue of issues) {
    const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) diagnostics.push(unknownKey(path, key, context));
      continue;
    }
    const value = valueAt(context.raw, path);
    if (issue.code === 'custom') {
      const params = (issue.params ?? {}) as IssueParams;
      diagnostics.push(makeDiagnostic('error', path, issue.message, params.hint, context.lineOf));
      continue;
    }
    const rule = context.ruleFor(path);
    const missing = value === undefined && issue.code === 'invalid_type';
    let message: string;
    if (missing) message = 'is required';
    else if (rule) message = `${rule.message}, got ${describeValue(value)}`;
    else message = `${issue.message.replace(/^Invalid input: /, '')}`;
    let hint = typeof rule?.hint === 'function' ? rule.hint(value) : rule?.hint;
    if (missing && rule) hint = hint ? `${rule.message}; ${hint}` : rule.message;
    if (issue.code === 'invalid_type' && issue.expected === 'number' && isNumericString(value)) {
      hint = `write the number without quotes: ${String(path.at(-1))}: ${String(value).trim()}`;
    }
    if (issue.code === 'invalid_type' && issue.expected === 'boolean' && typeof value === 'string') {
      hint = 'write true or false, without quotes (YAML reads yes/no/on/off as strings)';
    }
    diagnostics.push(makeDiagnostic('error', path, message, hint, context.lineOf));
  }
  return diagnostics;
}

function unknownKey(objectPath: PathSegment[], key: string, context: IssueContext): Diagnostic {
  const known = context.knownKeysAt(objectPath);
  let hint = context.unknownKeyHint?.(objectPath, key);
  if (!hint) {
    const suggestion = closest(key, known);
    hint = suggestion
      ? `did you mean "${suggestion}"?`
      : known.length > 0
        ? `known keys here: ${known.join(', ')}`
        : undefined;
  }
  const message = `unknown key "${key.length > 60 ? `${key.slice(0, 57)}...` : key}"`;
  return makeDiagnostic('error', [...objectPath, key], message, hint, context.lineOf);
}

function isNumericString(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Orders diagnostics by line (those without a line last), keeping the original order otherwise. */
export function sortByLine(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics
    .map((diagnostic, index) => ({ diagnostic, index }))
    .sort((a, b) => (a.diagnostic.line ?? Infinity) - (b.diagnostic.line ?? Infinity) || a.index - b.index)
    .map(({ diagnostic }) => diagnostic);
}

/** Drops exact repeats (same severity, path and message). */
export function dedupe(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.severity}\u0000${d.path}\u0000${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * One line per diagnostic, for terminals and logs:
 * `berth.yaml:7 health.interval: must be a duration like "2s" or "500ms" (hint: ...)`.
 * Severity is not shown (callers list errors and warnings apart); the line number is left out when
 * unknown, the path when empty.
 */
export function formatDiagnostics(file: string, diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics.map((d) => {
    const where = d.line !== undefined ? `${file}:${d.line}` : file;
    const path = d.path ? ` ${d.path}:` : '';
    const hint = d.hint ? ` (hint: ${d.hint})` : '';
    return `${where}${path} ${d.message}${hint}`;
  });
}
