import { describe, expect, it } from 'vitest';

import {
  buildEventQuery,
  commandsAfterEvent,
  filterKey,
  globToRegExp,
  isEmptyFilter,
  levelAtLeast,
  matchesFilter,
  matchesGlob,
  matchesWords,
  normalizeFilter,
  streamQueryString,
} from './filters';

describe('type globs (the store’s rules)', () => {
  it('* spans dots, ? is one character, the rest is literal and anchored', () => {
    expect(matchesGlob('github.issue.opened', 'github.*')).toBe(true);
    expect(matchesGlob('github.issue.opened', 'github.issue.*')).toBe(true);
    expect(matchesGlob('github.issue.opened', '*.opened')).toBe(true);
    expect(matchesGlob('github.issue.opened', 'github.issue.opene?')).toBe(true);
    expect(matchesGlob('github.issue.opened', 'github')).toBe(false);
    expect(matchesGlob('githubXissue', 'github.issue')).toBe(false);
    expect(matchesGlob('a+b', 'a+b')).toBe(true);
    expect(matchesGlob('GitHub.x', 'github.*')).toBe(false);
    expect(globToRegExp('a.*').test('a.b\nc')).toBe(true);
  });
});

describe('event filters', () => {
  const ev = { source: 'github', type: 'github.issue.opened' };
  it('matches exact source and glob type; empty means any', () => {
    expect(matchesFilter(ev, undefined)).toBe(true);
    expect(matchesFilter(ev, { source: '', type: '  ' })).toBe(true);
    expect(matchesFilter(ev, { source: 'github' })).toBe(true);
    expect(matchesFilter(ev, { source: 'git' })).toBe(false);
    expect(matchesFilter(ev, { type: 'github.*' })).toBe(true);
    expect(matchesFilter(ev, { source: 'github', type: 'slack.*' })).toBe(false);
  });
  it('normalizes', () => {
    expect(normalizeFilter({ source: ' a ', type: '' })).toEqual({ source: 'a' });
    expect(isEmptyFilter({ source: ' ' })).toBe(true);
    expect(filterKey({ source: 'a ' })).toBe(filterKey({ source: 'a', type: '' }));
  });
  it('builds the events query with only what is set', () => {
    expect(buildEventQuery({}, '')).toEqual({});
    expect(buildEventQuery({ source: 'github', type: 'github.*' }, ' crash* ', { limit: 200, cursor: 'c1' })).toEqual({
      source: 'github',
      event_type: 'github.*',
      q: 'crash*',
      limit: 200,
      cursor: 'c1',
    });
    expect(buildEventQuery(undefined, undefined, { cursor: null })).toEqual({});
  });
  it('builds the stream query string', () => {
    expect(streamQueryString(undefined)).toBe('');
    expect(streamQueryString({ source: 'mcp:x', type: 'a b' })).toBe('?source=mcp%3Ax&type=a+b');
  });
  it('commands after an event start at its timestamp', () => {
    expect(commandsAfterEvent(1700000000)).toEqual({ since: 1700000000, limit: 20 });
  });
});

describe('log levels and words', () => {
  it('levelAtLeast', () => {
    expect(levelAtLeast('error', 'warn')).toBe(true);
    expect(levelAtLeast('WARN', 'warn')).toBe(true);
    expect(levelAtLeast('info', 'warn')).toBe(false);
    expect(levelAtLeast('debug', '')).toBe(true);
    expect(levelAtLeast('trace', 'info')).toBe(true); // unknown levels count as info
  });
  it('matchesWords: all words, any order, case-insensitive', () => {
    expect(matchesWords(['Workflow auto-label failed', 'engine'], 'FAILED engine')).toBe(true);
    expect(matchesWords(['a'], 'a b')).toBe(false);
    expect(matchesWords(['a'], '  ')).toBe(true);
  });
});

describe('subjectMatches (NATS rules)', () => {
  it('matches tokens, * and a trailing >', async () => {
    const { subjectMatches } = await import('./filters');
    expect(subjectMatches('sekia.events.github', 'sekia.events.github')).toBe(true);
    expect(subjectMatches('sekia.events.github', 'sekia.events.slack')).toBe(false);
    expect(subjectMatches('sekia.events.*', 'sekia.events.slack')).toBe(true);
    expect(subjectMatches('sekia.events.*', 'sekia.events.mcp.x')).toBe(false);
    expect(subjectMatches('sekia.events.>', 'sekia.events.mcp.x')).toBe(true);
    expect(subjectMatches('sekia.events.>', 'sekia.events')).toBe(false);
    expect(subjectMatches('sekia.>', 'sekia.events.github')).toBe(true);
    expect(subjectMatches('sekia.events', 'sekia.events.github')).toBe(false);
  });
});
