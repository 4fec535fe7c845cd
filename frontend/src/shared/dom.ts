// A few lines instead of a framework, shared by the dashboard and the
// desktop app: build elements from tag, attributes and children. Text is
// always set as text (never HTML), so nothing typed at a ward or received
// from the server can inject markup into the page.

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void);
export type Attrs = Record<string, AttrValue>;

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') {
      el.addEventListener(k.replace(/^on/, '').toLowerCase(), v);
    } else if (k === 'value' && (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement)) {
      el.value = String(v);
    } else if (k === 'checked' && el instanceof HTMLInputElement) {
      el.checked = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** replace puts children in place of el's content. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/**
 * place makes nodes the children of parent, touching only what differs: a
 * child already in its place is not moved, so it keeps its focus, its
 * selection, what was typed into it and the scroll position around it.
 */
export function place(parent: Element, nodes: Node[]): void {
  for (let i = 0; i < nodes.length; i++) {
    const want = nodes[i]!;
    const at = parent.childNodes[i] ?? null;
    if (at !== want) parent.insertBefore(want, at);
  }
  while (parent.childNodes.length > nodes.length) parent.lastChild!.remove();
}

/**
 * Keyed keeps one element per item across live redraws: an item whose
 * signature (what its element shows) has not changed keeps its element,
 * with any form opened in it and the text typed there.
 */
export class Keyed<T> {
  private els = new Map<string, { sig: string; el: HTMLElement }>();
  constructor(
    private key: (item: T) => string,
    private sig: (item: T) => string,
    private build: (item: T) => HTMLElement,
  ) {}

  /** render puts the items' elements into parent, built anew only where needed. */
  render(parent: Element, items: T[]): void {
    const next = new Map<string, { sig: string; el: HTMLElement }>();
    const nodes = items.map((it) => {
      const k = this.key(it);
      const s = this.sig(it);
      const old = this.els.get(k);
      const el = old && old.sig === s ? old.el : this.build(it);
      next.set(k, { sig: s, el });
      return el;
    });
    this.els = next;
    place(parent, nodes);
  }
}

/** formValues reads a form's named fields; checkboxes of one name give a list. */
export function formValues(form: HTMLFormElement): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const el of Array.from(form.elements)) {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement) || !el.name) continue;
    if (el instanceof HTMLInputElement && el.type === 'checkbox') {
      const list = (out[el.name] as string[] | undefined) ?? [];
      if (el.checked) list.push(el.value);
      out[el.name] = list;
    } else {
      out[el.name] = el.value;
    }
  }
  return out;
}

/**
 * confirmButton is a button that asks for a second click instead of a
 * modal dialog: "Revoke" turns into "Click again to revoke" for 4 seconds.
 */
export function confirmButton(text: string, confirmText: string, attrs: Attrs, action: () => Promise<void> | void): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, text);
  let armed: number | undefined;
  b.addEventListener('click', async () => {
    if (armed === undefined) {
      b.textContent = confirmText;
      b.classList.add('armed');
      armed = window.setTimeout(() => {
        armed = undefined;
        b.textContent = text;
        b.classList.remove('armed');
      }, 4000);
      return;
    }
    window.clearTimeout(armed);
    armed = undefined;
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
      b.textContent = text;
      b.classList.remove('armed');
    }
  });
  return b;
}
