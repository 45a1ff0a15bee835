import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/vite-plugin-svelte').SvelteConfig} */
export default {
  preprocess: vitePreprocess(),
  compilerOptions: {
    runes: true,
    // Component CSS goes to an emitted .css file, never to a runtime <style> tag: the desktop's
    // CSP is `style-src 'self'` (vite-plugin-svelte's emitCss does this; stated here to be sure).
    css: 'external',
  },
};
