// Elements from tag, attributes and children. Text is always set as text,
// never as HTML, so nothing typed at a ward or received from the server can
// inject markup.

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

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, '').toLowerCase(), v);
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else if (k === 'checked' && el instanceof HTMLInputElement) el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** twoClick is a button that asks for a second click instead of a dialog. */
export function twoClick(text: string, armedText: string, attrs: Attrs, action: () => Promise<void> | void): HTMLButtonElement {
  const b = h('button', { type: 'button', ...attrs }, text);
  let armed: number | undefined;
  b.addEventListener('click', async () => {
    if (armed === undefined) {
      b.textContent = armedText;
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
