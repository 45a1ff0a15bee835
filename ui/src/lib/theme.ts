// Light / dark / system. The choice is kept in localStorage and applied as `data-theme` on
// <html>; "system" removes the attribute so `prefers-color-scheme` decides.

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'sekia.theme';

export function loadTheme(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    if (v === 'light' || v === 'dark') return v;
  } catch {
    // storage unavailable
  }
  return 'system';
}

export function applyTheme(choice: ThemeChoice): void {
  const root = document.documentElement;
  if (choice === 'system') delete root.dataset.theme;
  else root.dataset.theme = choice;
}

export function saveTheme(choice: ThemeChoice): void {
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // storage unavailable: the choice lasts for this session
  }
  applyTheme(choice);
}
