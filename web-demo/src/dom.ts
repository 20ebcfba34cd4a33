// The few DOM helpers the page needs: find an element that index.html promises, and build one.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element as T;
}

type Child = Node | string | number | null | undefined | false;

/** `h('td', { class: 'num', 'data-x': '1' }, 'text')`: attributes as strings, children as nodes or text. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/** Restarts a CSS animation class on an element (a brief highlight when a value changes). */
export function flash(element: Element, className = 'flash'): void {
  element.classList.remove('flash', 'flash-up', 'flash-down');
  void (element as HTMLElement).offsetWidth;
  element.classList.add(className);
}

/** The calendar date of an instant, e.g. "Nov 26, 2026". */
export function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function formatTime(iso: string, withDate = false): string {
  const date = new Date(iso);
  return withDate
    ? date.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
