import { ApiError } from '../api';
import { formValues, h, type Attrs, type Child } from '../../shared/dom';

// The pieces every dashboard tab is built of, so that the tabs look and
// behave alike: a section of panels, data tables under one header row, and
// forms that show the server's refusal on the field it names.

/** view is a tab's section, of id, holding its panels. */
export function view(id: string, ...panels: Child[]): HTMLElement {
  return h('section', { id, class: 'view' }, ...panels);
}

/** panel is one box of a tab. */
export function panel(...children: Child[]): HTMLDivElement {
  return h('div', { class: 'panel' }, ...children);
}

/** A header cell: its text, or its text with attributes (class, title). */
export type Head = string | [string, Attrs];

/** dataTable is a table of body under one header row; cls adds classes. */
export function dataTable(id: string, heads: Head[], body: HTMLTableSectionElement, cls = ''): HTMLTableElement {
  const th = (c: Head) => (typeof c === 'string' ? h('th', null, c) : h('th', c[1], c[0]));
  return h('table', { id, class: cls ? `data ${cls}` : 'data' }, h('thead', null, h('tr', null, heads.map(th))), body);
}

/** fieldError shows err on form (and marks the field the server refused); '' clears it. */
export function fieldError(form: HTMLFormElement, err: unknown): void {
  const box = form.querySelector('.form-error');
  form.querySelectorAll('.invalid').forEach((e) => e.classList.remove('invalid'));
  if (err instanceof ApiError && err.field) form.querySelector(`[name="${CSS.escape(err.field)}"]`)?.classList.add('invalid');
  if (box) box.textContent = err instanceof Error ? err.message : String(err);
}

/**
 * onSubmit sends form's values with send; once the server took them, the
 * form is emptied and then done runs with the answer. A refusal stays on
 * the form.
 */
export function onSubmit<T>(form: HTMLFormElement, send: (v: Record<string, string | string[]>) => Promise<T>, done: (answer: T) => Promise<void>): void {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const answer = await send(formValues(form));
      form.reset();
      fieldError(form, '');
      await done(answer);
    } catch (err) {
      fieldError(form, err);
    }
  });
}
