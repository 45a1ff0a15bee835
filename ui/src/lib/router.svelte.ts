// The current route, reactive. Updated from `hashchange`; `navigate` changes the hash.

import { href, parseHash, type Page, type Route } from './route';

class Router {
  current = $state<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

  start(): () => void {
    const update = () => {
      this.current = parseHash(location.hash);
    };
    window.addEventListener('hashchange', update);
    update();
    return () => window.removeEventListener('hashchange', update);
  }

  navigate(page: Page, param?: string | null, query?: Record<string, string | undefined | null>): void {
    const h = href(page, param, query);
    if (location.hash !== h) location.hash = h;
    else this.current = parseHash(h);
  }
}

export const router = new Router();
