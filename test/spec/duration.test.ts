import { describe, expect, it } from 'vitest';

import { formatDuration, parseDuration } from '../../src/spec/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    [' 2s ', 2000],
    ['3', 3000],
    [2, 2000],
    [0.25, 250],
    ['0s', 0],
  ])('%j -> %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each<[unknown, string]>([
    ['', 'empty'],
    ['2 secs', 'unknown unit'],
    ['s', 'no number'],
    ['-1s', 'negative'],
    [-5, 'negative number'],
    ['1e3s', 'exponent'],
    ['0.5ms', 'sub-millisecond'],
    [Infinity, 'infinite'],
    [Number.NaN, 'NaN'],
    [1e30, 'huge'],
    ['25h', 'over 24h'],
    [null, 'null'],
    [true, 'boolean'],
    [['2s'], 'list'],
    ['2s; rm -rf /', 'trailing garbage'],
  ])('rejects %j (%s)', (input) => {
    expect(parseDuration(input)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [500, '500ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [60_000, '1m'],
    [7_200_000, '2h'],
  ])('%d -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
