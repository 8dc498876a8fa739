// Client-side routes over the History API; the server answers `index.html` for them.

import { store, useStore } from "./store";

const location = store(window.location.pathname + window.location.search);

window.addEventListener("popstate", () => location.set(window.location.pathname + window.location.search));

/** Goes to `to` (a path of the app), adding a history entry unless `replace`. */
export function navigate(to: string, replace = false): void {
  if (to === location.get()) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  location.set(to);
  window.scrollTo(0, 0);
}

/** The current path (and query) of the app. */
export function useLocation(): string {
  return useStore(location);
}

/** Click handler for links inside the app: navigates without a page load. */
export function linkClick(event: MouseEvent, to: string): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  event.preventDefault();
  navigate(to);
}
