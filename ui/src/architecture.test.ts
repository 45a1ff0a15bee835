// Rules about the source tree itself.

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname);
const ROOT = join(SRC, '..');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|js|svelte|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

const files = walk(SRC).filter((f) => !f.endsWith('architecture.test.ts'));

describe('the backend seam', () => {
  it('only src/lib/backend/ imports @tauri-apps/*', () => {
    const offenders = files
      .filter((f) => !relative(SRC, f).startsWith(['lib', 'backend'].join(sep) + sep))
      .filter((f) => /(from\s+|import\s*\(\s*|require\s*\(\s*)['"]@tauri-apps\//.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('nothing touches window.__TAURI__ globals outside the backend', () => {
    const offenders = files
      .filter((f) => !relative(SRC, f).startsWith(['lib', 'backend'].join(sep) + sep))
      .filter((f) => /__TAURI__|__TAURI_INTERNALS__/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });
});

describe('the CSP (script-src and style-src are self only)', () => {
  it('no Svelte template has a static style="" attribute (parsed inline styles are blocked)', () => {
    const offenders = files
      .filter((f) => f.endsWith('.svelte'))
      .filter((f) => {
        const markup = readFileSync(f, 'utf8')
          .replace(/<script[\s\S]*?<\/script>/g, '')
          .replace(/<style[\s\S]*?<\/style>/g, '');
        return /\sstyle\s*=/.test(markup);
      });
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('no <svelte:head> styles or {@html} (which could carry inline style or script)', () => {
    const offenders = files
      .filter((f) => f.endsWith('.svelte'))
      .filter((f) => /<svelte:head|\{@html/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(ROOT, f))).toEqual([]);
  });

  it('component CSS is emitted to a file', async () => {
    const config = (await import(join(ROOT, 'svelte.config.js'))).default as { compilerOptions?: { css?: string } };
    expect(config.compilerOptions?.css).toBe('external');
    expect(readFileSync(join(ROOT, 'vite.config.ts'), 'utf8')).toMatch(/emitCss:\s*true/);
  });

  it('index.html has no inline script or style', () => {
    for (const file of [join(ROOT, 'index.html'), join(ROOT, 'dist', 'index.html')]) {
      if (!existsSync(file)) continue;
      const html = readFileSync(file, 'utf8');
      const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      for (const [, attrs, body] of scripts) {
        expect(attrs, file).toMatch(/\bsrc=/);
        expect(body!.trim(), file).toBe('');
      }
      expect(html, file).not.toMatch(/<style\b/);
      expect(html, file).not.toMatch(/\sstyle=/);
      expect(html, file).not.toMatch(/\son[a-z]+=/);
    }
  });
});
