import { describe, expect, it } from 'vitest';

import type { UpdateInfo, UpdateStatus } from './backend';
import { canCheck, downloadPercent, updateLine } from './updates';

function info(status: UpdateStatus): UpdateInfo {
  return { status, current_version: '0.1.0', channel: 'stable', check_automatically: true, feed: 'https://example/latest.json' };
}

describe('the updater in Settings', () => {
  const now = Date.UTC(2026, 11, 6, 12, 0, 0);

  it('says what the updater is doing', () => {
    expect(updateLine(info({ state: 'unsupported' }), now)).toMatch(/development build \(v0\.1\.0\) does not update itself/);
    expect(updateLine(info({ state: 'up_to_date', checked_at: null, error: null }), now)).toBe('You have v0.1.0.');
    expect(updateLine(info({ state: 'up_to_date', checked_at: now / 1000 - 120, error: null }), now)).toMatch(/^v0\.1\.0 is the newest \(checked .+\)\.$/);
    expect(updateLine(info({ state: 'up_to_date', checked_at: now / 1000, error: 'timed out' }), now)).toBe('Could not check for updates: timed out');
    expect(updateLine(info({ state: 'checking' }), now)).toBe('Checking for updates…');
    expect(updateLine(info({ state: 'available', version: '0.2.0', notes: null, error: null }), now)).toBe('v0.2.0 is available; you have v0.1.0.');
    expect(updateLine(info({ state: 'downloading', version: '0.2.0', downloaded: 512, total: 1024 }), now)).toBe('Downloading v0.2.0… 50%');
    expect(updateLine(info({ state: 'downloading', version: '0.2.0', downloaded: 512, total: null }), now)).toBe('Downloading v0.2.0…');
    expect(updateLine(info({ state: 'installing', version: '0.2.0' }), now)).toMatch(/^Installing v0\.2\.0; sekia stops its workflows and restarts/);
  });

  it('shows whole percents, never past 100', () => {
    expect(downloadPercent({ state: 'downloading', version: '0.2.0', downloaded: 999, total: 1000 })).toBe(99);
    expect(downloadPercent({ state: 'downloading', version: '0.2.0', downloaded: 2000, total: 1000 })).toBe(100);
    expect(downloadPercent({ state: 'downloading', version: '0.2.0', downloaded: 5, total: 0 })).toBeNull();
    expect(downloadPercent({ state: 'checking' })).toBeNull();
  });

  it('lets the user check only when nothing else is going on', () => {
    expect(canCheck({ state: 'up_to_date', checked_at: null, error: null })).toBe(true);
    expect(canCheck({ state: 'available', version: '0.2.0', notes: null, error: null })).toBe(true);
    expect(canCheck({ state: 'checking' })).toBe(false);
    expect(canCheck({ state: 'downloading', version: '0.2.0', downloaded: 0, total: null })).toBe(false);
    expect(canCheck({ state: 'installing', version: '0.2.0' })).toBe(false);
    expect(canCheck({ state: 'unsupported' })).toBe(false);
  });
});
