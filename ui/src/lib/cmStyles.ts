// CodeMirror under a strict CSP (`style-src 'self'`, no 'unsafe-inline').
//
// CodeMirror injects its styles at run time through style-mod. Into a shadow root it puts them
// in a constructed stylesheet (`adoptedStyleSheets`), which CSP does not govern; into a
// document it uses a <style> element, which `style-src 'self'` blocks (the editor then renders
// without its layout, and the browser logs a CSP error). style-mod picks the path once per
// document, when the first editor mounts its styles, by checking `root.head`, and caches it.
//
// So the first editor is created while `document.head` reads as null: style-mod then builds the
// document's style set on a constructed stylesheet too, and every later mount reuses it. The
// editor stays in the light DOM (tests and global styles reach it). `cmStyles.test.ts` runs the
// real style-mod through this to notice if a new version changes how it decides.

/** Whether this document can adopt constructed stylesheets. */
export function canAdoptStyles(doc: Document): boolean {
  const win = doc.defaultView as (Window & typeof globalThis) | null;
  return !!win && 'adoptedStyleSheets' in doc && typeof win.CSSStyleSheet === 'function';
}

/** Runs `create` (e.g. `new EditorView(…)`) so that CodeMirror's styles go to a constructed sheet. */
export function withConstructedStyles<T>(create: () => T, doc: Document = document): T {
  if (!canAdoptStyles(doc)) return create();
  const own = Object.getOwnPropertyDescriptor(doc, 'head');
  Object.defineProperty(doc, 'head', { value: null, configurable: true });
  try {
    return create();
  } finally {
    if (own) Object.defineProperty(doc, 'head', own);
    else delete (doc as { head?: unknown }).head;
  }
}
