import { StyleModule } from 'style-mod';
import { describe, expect, it } from 'vitest';

import { canAdoptStyles, withConstructedStyles } from './cmStyles';

class FakeSheet {
  rules: string[] = [];
  insertRule(rule: string, at: number) {
    this.rules.splice(at, 0, rule);
    return at;
  }
}

/** The parts of a document style-mod touches. */
function fakeDocument(adopts = true) {
  const created: string[] = [];
  const head = { tag: 'head', insertBefore: () => {}, firstChild: null };
  const proto = {
    get head() {
      return head;
    },
  };
  const doc = Object.create(proto) as Record<string, unknown>;
  doc.defaultView = adopts ? { CSSStyleSheet: FakeSheet } : {};
  if (adopts) doc.adoptedStyleSheets = [];
  doc.createElement = (tag: string) => {
    created.push(tag);
    return { setAttribute() {}, textContent: '', parentNode: null };
  };
  return { doc: doc as unknown as Document & { adoptedStyleSheets: FakeSheet[] }, created, head };
}

describe('CodeMirror styles under a strict CSP', () => {
  it('style-mod puts a document’s styles in a <style> element on its own (what CSP blocks)', () => {
    const { doc, created } = fakeDocument();
    StyleModule.mount(doc, new StyleModule({ '.cm-x': { color: 'red' } }));
    expect(created).toEqual(['style']);
  });

  it('through withConstructedStyles it uses a constructed sheet instead, and keeps using it', () => {
    const { doc, created, head } = fakeDocument();
    withConstructedStyles(() => StyleModule.mount(doc, new StyleModule({ '.cm-y': { color: 'blue' } })), doc);
    expect(created).toEqual([]);
    expect(doc.adoptedStyleSheets).toHaveLength(1);
    expect(doc.adoptedStyleSheets[0]!.rules.join('\n')).toContain('color: blue');
    // document.head is back, and later mounts (new themes, tooltips) reuse the sheet.
    expect(doc.head).toBe(head);
    StyleModule.mount(doc, new StyleModule({ '.cm-z': { color: 'green' } }));
    expect(created).toEqual([]);
    expect(doc.adoptedStyleSheets).toHaveLength(1);
    expect(doc.adoptedStyleSheets[0]!.rules.join('\n')).toContain('color: green');
  });

  it('leaves documents that cannot adopt sheets alone', () => {
    const { doc } = fakeDocument(false);
    expect(canAdoptStyles(doc)).toBe(false);
    expect(withConstructedStyles(() => 42, doc)).toBe(42);
  });

  it('restores document.head even when creation throws', () => {
    const { doc, head } = fakeDocument();
    expect(() =>
      withConstructedStyles(() => {
        throw new Error('boom');
      }, doc),
    ).toThrow('boom');
    expect(doc.head).toBe(head);
  });
});
