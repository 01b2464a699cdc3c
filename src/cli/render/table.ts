/**
 * Borderless, left-aligned tables that fit the terminal. When a table is wider than the width it
 * may use, it gives up room in this order:
 * 1. `ownLine` columns (long values such as URLs or reasons) leave the row and go on lines of
 *    their own under it, `  why: …`, wrapped at spaces (and cut only where there is none);
 * 2. `shrink` columns, then the others, widest first, are cut with an ellipsis ("…").
 * No line is ever wider than the width, so no row wraps; `--json` always has the whole values.
 */

export interface TableOptions {
  /** The widest a line may be (the caller's indent included); default: no limit. */
  width?: number;
  /** Spaces the caller puts in front of every line; counted against the width. */
  indent?: number;
  /** Headers of columns to move onto their own line under each row when the table is too wide. */
  ownLine?: string[];
  /** Headers of columns to cut first when the table is still too wide. */
  shrink?: string[];
}

type Cell = string | number | null | undefined;

// eslint-disable-next-line no-control-regex -- matching colour codes is the point
const ANSI = /\x1b\[[0-9;]*m/g;
const GAP = 2;
const MIN_COLUMN = 5;

/** How many columns `text` takes on a terminal (colour codes take none). */
export function displayWidth(text: string): number {
  return [...text.replace(ANSI, '')].length;
}

/** `text` cut to `width` columns with an ellipsis; the colour is dropped from a cut value. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  const plain = [...text.replace(ANSI, '')];
  if (width <= 0) return '';
  return `${plain.slice(0, width - 1).join('')}…`;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

const cellText = (cell: Cell) => (cell === null || cell === undefined ? '-' : String(cell));

export function renderTable(head: string[], rows: Cell[][], options: TableOptions = {}): string {
  const limit = (options.width ?? Infinity) - (options.indent ?? 0);
  const body = rows.map((row) => head.map((_, column) => cellText(row[column])));
  const natural = (columns: number[]) =>
    columns.map((column) =>
      Math.max(displayWidth(head[column]!), ...body.map((row) => displayWidth(row[column]!))),
    );
  const total = (widths: number[]) => widths.reduce((sum, w) => sum + w, 0) + GAP * (widths.length - 1);

  let columns = head.map((_, column) => column);
  let widths = natural(columns);
  let moved: number[] = [];
  if (total(widths) > limit && options.ownLine?.length) {
    moved = columns.filter((column) => options.ownLine!.includes(head[column]!));
    columns = columns.filter((column) => !moved.includes(column));
    widths = natural(columns);
  }
  // Cut the preferred columns first, then any, always the widest: one column at a time.
  const preferred = columns.map((column) => options.shrink?.includes(head[column]!) ?? false);
  for (const onlyPreferred of [true, false]) {
    while (total(widths) > limit) {
      let widest = -1;
      widths.forEach((width, index) => {
        const floor = Math.min(MIN_COLUMN, natural([columns[index]!])[0]!);
        if (width <= floor || (onlyPreferred && !preferred[index])) return;
        if (widest < 0 || width > widths[widest]!) widest = index;
      });
      if (widest < 0) break;
      widths[widest] = Math.max(MIN_COLUMN, widths[widest]! - Math.max(1, total(widths) - limit));
    }
  }

  const line = (cells: string[]) =>
    columns
      .map((column, index) => pad(truncate(cells[column]!, widths[index]!), widths[index]!))
      .join(' '.repeat(GAP))
      .trimEnd();
  const lines = [line(head)];
  for (const row of body) {
    lines.push(line(row));
    for (const column of moved) {
      if (row[column] === '-' || row[column] === '') continue;
      lines.push(...wrapText(`  ${head[column]!.toLowerCase()}: ${row[column]!}`, limit, 4));
    }
  }
  return lines.join('\n');
}

/**
 * A line of prose fitted to the width: words wrapped onto further lines that start with
 * `indent` spaces (so a long message never wraps at the terminal's edge, mid-word).
 */
export function wrapText(text: string, width: number, indent: number): string[] {
  if (!Number.isFinite(width) || displayWidth(text) <= width) return [text];
  const lead = /^ */.exec(text)![0];
  const words = text.slice(lead.length).split(' ');
  const lines: string[] = [];
  let current = lead;
  for (const word of words) {
    const room = width - (lines.length ? indent : 0);
    const candidate = current.trim() ? `${current} ${word}` : `${current}${word}`;
    if (displayWidth(candidate) <= room || !current.trim()) current = candidate;
    else {
      lines.push(current.trimEnd());
      current = word;
    }
  }
  lines.push(current.trimEnd());
  return lines
    .filter((line, index) => index === 0 || line !== '')
    .map((line, index) => truncate(index === 0 ? line : ' '.repeat(indent) + line.trimStart(), width));
}
