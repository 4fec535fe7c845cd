// A small form kit: labelled fields with their own message line, checks run
// as the user types (on the fields they touched, on all of them when they
// press Enter), a refusal from the engine shown at its field when it names
// one. A real <form>: Tab moves through the fields in order and Enter
// submits (Ctrl+Enter inside a text area).
import { h } from '../../shared/dom';
import { DatePattern, datePlaceholder, t } from '../../shared/i18n';
import { ProblemError } from '../api';
import type { Problem } from '../types';

export type Values = Record<string, string>;
export type Check = (v: Values) => Record<string, string | undefined>;

export interface FieldSpec {
  name: string;
  label: string;
  /** date: typed as dd/mm/yyyy (a text box, not the browser's picker); time: 24 h "HH:MM" */
  kind?: 'text' | 'textarea' | 'number' | 'date' | 'time' | 'datetime' | 'select' | 'checkbox' | 'password' | 'email';
  options?: Array<[string, string]>;
  value?: string;
  unit?: string;
  hint?: string;
  rows?: number;
  autofocus?: boolean;
  autocomplete?: string;
  wide?: boolean;
}

export interface FormSpec {
  id: string;
  title?: string;
  subtitle?: string;
  fields: Array<FieldSpec | FieldSpec[]>;
  submit: string;
  check?: Check;
  /** fieldOf maps a refusal's field (a JSON path) to a form field name. */
  fieldOf?: (path: string) => string | undefined;
  onSubmit: (v: Values) => Promise<void>;
  cancel?: () => void;
  extra?: Node[];
}

type Input = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

export interface Form {
  el: HTMLFormElement;
  inputs: Record<string, Input>;
  values: () => Values;
  showProblem: (p: Problem) => void;
}

export function buildForm(spec: FormSpec): Form {
  const inputs: Record<string, Input> = {};
  const msgs: Record<string, HTMLElement> = {};
  const touched = new Set<string>();
  let showAll = false;
  const problem = h('p', { class: 'problem', role: 'alert', 'data-role': 'problem', hidden: true });

  const fieldEl = (f: FieldSpec): HTMLElement => {
    const id = `${spec.id}-${f.name}`;
    let input: Input;
    const common = { id, name: f.name, 'aria-describedby': `${id}-msg` };
    switch (f.kind) {
      case 'textarea':
        input = h('textarea', { ...common, rows: f.rows ?? 4 });
        input.value = f.value ?? '';
        break;
      case 'select':
        input = h('select', common, (f.options ?? []).map(([v, l]) => h('option', { value: v }, l)));
        input.value = f.value ?? (f.options?.[0]?.[0] ?? '');
        break;
      case 'checkbox':
        input = h('input', { ...common, type: 'checkbox', value: 'true', checked: f.value === 'true' });
        break;
      default: {
        const typed = f.kind === 'number' || f.kind === 'date' || f.kind === 'time';
        const type = typed ? 'text' : f.kind === 'datetime' ? 'datetime-local' : (f.kind ?? 'text');
        input = h('input', {
          ...common,
          type,
          inputmode: f.kind === 'number' ? 'decimal' : f.kind === 'date' || f.kind === 'time' ? 'numeric' : null,
          pattern: f.kind === 'date' ? DatePattern : f.kind === 'time' ? '\\d{1,2}[:hH.]\\d{2}' : null,
          placeholder: f.kind === 'date' ? datePlaceholder() : f.kind === 'time' ? t('time.placeholder') : null,
          size: f.kind === 'date' ? 10 : f.kind === 'time' ? 5 : null,
          autocomplete: f.autocomplete ?? 'off',
          spellcheck: f.kind === 'number' ? 'false' : null,
          value: f.value ?? '',
        });
      }
    }
    if (f.autofocus) input.setAttribute('autofocus', '');
    inputs[f.name] = input;
    const msg = h('span', { class: 'msg', id: `${id}-msg`, 'data-msg-for': f.name });
    msgs[f.name] = msg;
    const mark = () => {
      touched.add(f.name);
      run();
    };
    input.addEventListener('input', mark);
    input.addEventListener('change', mark);
    if (input instanceof HTMLTextAreaElement) {
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          form.requestSubmit();
        }
      });
    }
    if (f.kind === 'checkbox') {
      return h('label', { class: 'field check' + (f.wide ? ' wide' : '') }, input, h('span', null, f.label), msg);
    }
    return h(
      'label',
      { class: 'field' + (f.wide || f.kind === 'textarea' ? ' wide' : ''), for: id },
      h('span', { class: 'label' }, f.label, f.unit ? h('span', { class: 'unit' }, ` (${f.unit})`) : null),
      input,
      f.hint ? h('span', { class: 'hint' }, f.hint) : null,
      msg,
    );
  };

  const values = (): Values => {
    const v: Values = {};
    for (const [k, i] of Object.entries(inputs)) v[k] = i instanceof HTMLInputElement && i.type === 'checkbox' ? String(i.checked) : i.value;
    return v;
  };

  const setMsg = (name: string, text: string | undefined, server = false) => {
    const m = msgs[name];
    const i = inputs[name];
    if (!m || !i) return;
    m.textContent = text ?? '';
    m.classList.toggle('server', server && !!text);
    i.classList.toggle('invalid', !!text);
    i.setAttribute('aria-invalid', text ? 'true' : 'false');
  };

  /** run checks everything and shows the messages of touched fields; true when all is well. */
  const run = (): boolean => {
    const errs = spec.check ? spec.check(values()) : {};
    let ok = true;
    for (const name of Object.keys(inputs)) {
      const e = errs[name];
      if (e) ok = false;
      setMsg(name, showAll || touched.has(name) ? e : undefined);
    }
    problem.hidden = true;
    return ok;
  };

  const showProblem = (p: Problem) => {
    const name = p.field ? (spec.fieldOf ? spec.fieldOf(p.field) : p.field) : undefined;
    if (name && inputs[name]) {
      setMsg(name, p.message, true);
      inputs[name]!.focus();
    }
    problem.textContent = `${p.code}: ${p.message}`;
    problem.hidden = false;
  };

  const submit = h('button', { type: 'submit', class: 'primary', 'data-role': 'submit' }, spec.submit);
  const rows = spec.fields.map((f) => (Array.isArray(f) ? h('div', { class: 'row' }, f.map(fieldEl)) : fieldEl(f)));
  const form = h(
    'form',
    { id: spec.id, class: 'act-form', novalidate: true },
    spec.title ? h('h2', null, spec.title) : null,
    spec.subtitle ? h('p', { class: 'subtitle' }, spec.subtitle) : null,
    spec.extra ?? null,
    rows,
    problem,
    h('div', { class: 'actions' }, submit, spec.cancel ? h('button', { type: 'button', 'data-role': 'cancel', onclick: spec.cancel }, t('form.cancel')) : null),
  );
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && spec.cancel) spec.cancel();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showAll = true;
    if (!run()) {
      const first = Object.keys(inputs).find((n) => inputs[n]!.classList.contains('invalid'));
      if (first) inputs[first]!.focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await spec.onSubmit(values());
    } catch (err) {
      showProblem(err instanceof ProblemError ? err.problem : { code: 'INTERNAL', message: String(err) });
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return { el: form, inputs, values, showProblem };
}

/** focusFirst puts the cursor in the form's first field (or its autofocus one). */
export function focusFirst(f: Form): void {
  const first = (f.el.querySelector('[autofocus]') ?? f.el.querySelector('input, textarea, select')) as HTMLElement | null;
  first?.focus();
}
