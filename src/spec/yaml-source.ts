/**
 * Reading a YAML file into plain data plus a way to find the line of any path in it. Syntax errors,
 * a missing file, an empty file and alias bombs all become diagnostics; nothing here throws.
 */
import { readFile, stat } from 'node:fs/promises';

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';

import { makeDiagnostic, type LineOf, type PathSegment } from './diagnostics.js';
import type { Diagnostic } from './types.js';

/** Files larger than this are refused rather than parsed. */
export const MAX_YAML_BYTES = 1024 * 1024;

export interface ParsedYaml {
  /** The document as plain data; undefined when it could not be parsed or is empty. */
  data?: unknown;
  /** False when the document has no content at all (an empty file or only comments). */
  empty: boolean;
  diagnostics: Diagnostic[];
  lineOf: LineOf;
}

const YAML_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs for indentation',
  DUPLICATE_KEY: 'each key may appear once in a mapping; remove or merge the duplicate',
  MULTIPLE_DOCS: 'keep a single document: remove the extra "---" separators',
  BAD_INDENT: 'check the indentation of this line against the lines above it',
  MISSING_CHAR: 'a bracket or quote is not closed',
  BAD_DQ_ESCAPE: 'in double quotes, write a backslash as \\\\; or use single quotes',
  NON_STRING_KEY: 'keys must be plain names, not lists or mappings',
  RESOURCE_EXHAUSTION: 'the document expands too much through aliases; write the values out',
};

/** Parses YAML text. Never throws: every syntax problem is a diagnostic with its line. */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  let doc: Document.Parsed | undefined;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: true, stringKeys: true, uniqueKeys: true });
  } catch (error) {
    diagnostics.push(
      makeDiagnostic('error', [], `cannot parse YAML: ${firstLine(error)}`, undefined, undefined),
    );
    return { empty: false, diagnostics, lineOf: () => undefined };
  }
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;
  const lineOf: LineOf = (path) => findLine(doc, path, lineAt);

  for (const error of doc.errors) diagnostics.push(yamlDiagnostic('error', error));
  for (const warning of doc.warnings) diagnostics.push(yamlDiagnostic('warning', warning));
  if (doc.errors.length > 0) return { empty: false, diagnostics, lineOf };

  if (doc.contents === null) return { empty: true, diagnostics, lineOf };
  try {
    const data: unknown = doc.toJS({ maxAliasCount: 100 });
    return { data, empty: false, diagnostics, lineOf };
  } catch (error) {
    diagnostics.push(
      makeDiagnostic(
        'error',
        [],
        `cannot read YAML: ${firstLine(error)}`,
        YAML_HINTS.RESOURCE_EXHAUSTION,
        undefined,
      ),
    );
    return { empty: false, diagnostics, lineOf };
  }
}

export interface ReadYamlResult extends ParsedYaml {
  /** False when the file does not exist (a diagnostic says so). */
  exists: boolean;
}

/** Reads and parses a YAML file; a missing, unreadable or oversized file becomes a diagnostic. */
export async function readYamlFile(
  file: string,
  missing: { message: string; hint: string },
): Promise<ReadYamlResult> {
  const noLines: LineOf = () => undefined;
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) {
      const diagnostic = makeDiagnostic('error', [], `${file} is not a file`, missing.hint, undefined);
      return { exists: true, empty: false, diagnostics: [diagnostic], lineOf: noLines };
    }
    if (info.size > MAX_YAML_BYTES) {
      const message = `${file} is too large (${info.size} bytes; the limit is ${MAX_YAML_BYTES})`;
      const diagnostic = makeDiagnostic('error', [], message, undefined, undefined);
      return { exists: true, empty: false, diagnostics: [diagnostic], lineOf: noLines };
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const diagnostic = makeDiagnostic('error', [], missing.message, missing.hint, undefined);
      return { exists: false, empty: false, diagnostics: [diagnostic], lineOf: noLines };
    }
    const diagnostic = makeDiagnostic(
      'error',
      [],
      `cannot read ${file}: ${firstLine(error)}`,
      undefined,
      undefined,
    );
    return { exists: true, empty: false, diagnostics: [diagnostic], lineOf: noLines };
  }
  return { exists: true, ...parseYaml(text) };
}

function yamlDiagnostic(
  severity: Diagnostic['severity'],
  error: { code: string; message: string; linePos?: { line: number }[] },
): Diagnostic {
  const message = firstLine(error).replace(/ at line \d+, column \d+:?$/, '');
  const diagnostic: Diagnostic = { severity, path: '', message: `YAML: ${message}` };
  diagnostic.hint = YAML_HINTS[error.code] ?? 'fix the YAML syntax on this line (or just above it)';
  const line = error.linePos?.[0]?.line;
  if (line !== undefined) diagnostic.line = line;
  return diagnostic;
}

function firstLine(error: unknown): string {
  const message =
    error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)
      ? String((error as { message: unknown }).message)
      : String(error);
  return message.split('\n')[0]!.trim();
}

/**
 * The line of the node at `path`: for a mapping entry, the line of its key. When the path does not
 * exist (a missing field), the line of the deepest part of it that does, or undefined at the top.
 */
function findLine(
  doc: Document.Parsed | undefined,
  path: PathSegment[],
  lineAt: (offset: number | undefined) => number | undefined,
): number | undefined {
  if (!doc) return undefined;
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && keyText(item.key) === String(segment));
      if (!pair) return line;
      line = lineAt((pair.key as Node | null)?.range?.[0]) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) return line;
      line = lineAt(item.range?.[0]) ?? line;
      node = item;
    } else {
      return line;
    }
  }
  return line;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}
