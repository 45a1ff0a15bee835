// The words and numbers the Settings page shows for the desktop app's updater. Pure, so the
// wording is tested without a window.

import type { UpdateInfo, UpdateStatus } from './backend';
import { formatRelative } from './format';

/** Whole percent downloaded, or null when the size is unknown or nothing downloads. */
export function downloadPercent(s: UpdateStatus): number | null {
  if (s.state !== 'downloading' || !s.total) return null;
  return Math.min(100, Math.floor((s.downloaded * 100) / s.total));
}

/** One line saying where the updater stands. */
export function updateLine(info: UpdateInfo, now: number = Date.now()): string {
  const current = `v${info.current_version}`;
  const s = info.status;
  switch (s.state) {
    case 'unsupported':
      return `This development build (${current}) does not update itself; releases do.`;
    case 'up_to_date':
      if (s.error) return `Could not check for updates: ${s.error}`;
      if (s.checked_at === null) return `You have ${current}.`;
      return `${current} is the newest (checked ${formatRelative(s.checked_at * 1000, now)}).`;
    case 'checking':
      return 'Checking for updates…';
    case 'available':
      return `v${s.version} is available; you have ${current}.`;
    case 'downloading': {
      const pct = downloadPercent(s);
      return pct === null ? `Downloading v${s.version}…` : `Downloading v${s.version}… ${pct}%`;
    }
    case 'installing':
      return `Installing v${s.version}; sekia stops its workflows and restarts when it is done.`;
  }
}

/** Whether "Check for updates" can be pressed. */
export function canCheck(s: UpdateStatus): boolean {
  return s.state === 'up_to_date' || s.state === 'available';
}
