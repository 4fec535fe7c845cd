// The clinical data as tables and editable lists, never JSON: a result's
// measured values (test / value / unit / reference range / flag) and a
// patient's medical history (allergies, conditions, current medications).
import { h } from '../../shared/dom';
import { t, type MessageKey } from '../../shared/i18n';
import { historyLists, parseHistory, type History, type HistoryList } from '../clinical';
import type { LabRow } from '../types';

/** labTable renders measured values; abnormal rows are marked. */
export function labTable(rows: LabRow[], legacy = false): HTMLElement {
  return h('table', { class: 'lab-table', 'data-role': 'lab-table' },
    legacy ? h('caption', { class: 'muted small' }, t('lab.legacy')) : null,
    h('thead', null, h('tr', null,
      h('th', null, t('lab.test')), h('th', null, t('lab.value')), h('th', null, t('lab.unit')), h('th', null, t('lab.range')), h('th', null, t('lab.flag')))),
    h('tbody', null, rows.map((r) => h('tr', { class: r.abnormal ? 'abnormal' : null, 'data-abnormal': r.abnormal ? 'true' : 'false' },
      h('td', null, r.test), h('td', { class: 'num' }, r.value), h('td', null, r.unit ?? ''), h('td', null, r.range ?? ''),
      h('td', null, r.abnormal ? h('span', { class: 'badge bad' }, t('lab.abnormal')) : '')))));
}

const listTitle: Record<HistoryList, MessageKey> = { allergies: 'history.allergies', conditions: 'history.conditions', medications: 'history.medications' };

/** historyBlock renders a medical history as three short lists. */
export function historyBlock(v: unknown): HTMLElement | null {
  const hist = parseHistory(v);
  const filled = historyLists.filter((k) => hist[k].length > 0);
  const other = Object.entries(hist.other);
  if (filled.length === 0 && other.length === 0) return null;
  return h('dl', { class: 'facts history', 'data-role': 'history' },
    filled.map((k) => [h('dt', null, t(listTitle[k])), h('dd', { 'data-list': k }, hist[k].join(', '))]),
    other.map(([k, x]) => [h('dt', null, k), h('dd', null, typeof x === 'string' ? x : JSON.stringify(x))]));
}

/** ListEditor is one editable list: a line per entry, add and remove. */
export interface ListEditor {
  el: HTMLElement;
  values: () => string[];
}

export function listEditor(name: HistoryList, items: string[]): ListEditor {
  const list = h('ol', { class: 'list-editor', 'data-list': name });
  const add = (value = '', focus = false) => {
    const input = h('input', { type: 'text', value, maxlength: 200, 'aria-label': t(listTitle[name]), 'data-role': 'item' });
    const li = h('li', null, input,
      h('button', { type: 'button', class: 'small', 'data-role': 'remove', title: t('history.remove'), onclick: () => li.remove() }, t('history.remove')));
    list.append(li);
    if (focus) input.focus();
  };
  for (const x of items) add(x);
  const el = h('fieldset', { class: 'list-field', 'data-field': name },
    h('legend', null, t(listTitle[name])),
    list,
    h('button', { type: 'button', class: 'small', 'data-role': 'add', onclick: () => add('', true) }, t('history.add')));
  const values = () => [...list.querySelectorAll<HTMLInputElement>('input')].map((i) => i.value);
  return { el, values };
}

/** historyEditor is the three lists of a history, keeping older keys as they were. */
export function historyEditor(v: unknown): { el: HTMLElement; value: () => History } {
  const hist = parseHistory(v);
  const editors = historyLists.map((k) => [k, listEditor(k, hist[k])] as const);
  return {
    el: h('div', { class: 'history-editor' }, editors.map(([, e]) => e.el)),
    value: () => ({ ...hist, ...Object.fromEntries(editors.map(([k, e]) => [k, e.values()])) }) as History,
  };
}

/** labEditor is the rows of measured values as typed by the biologist. */
export function labEditor(rows: LabRow[]): { el: HTMLElement; rows: () => LabRow[]; focusCell: (row: number, field: string) => void } {
  const body = h('tbody');
  const add = (r: LabRow = { test: '', value: '' }, focus = false) => {
    const cell = (field: keyof LabRow, value: string, label: MessageKey, size: number) =>
      h('td', null, h('input', { type: 'text', value, 'data-field': field, 'aria-label': t(label), size }));
    const abnormal = h('input', { type: 'checkbox', 'data-field': 'abnormal', checked: !!r.abnormal, 'aria-label': t('lab.abnormal') });
    const tr = h('tr', null,
      cell('test', r.test, 'lab.test', 12), cell('value', r.value, 'lab.value', 8), cell('unit', r.unit ?? '', 'lab.unit', 6),
      cell('range', r.range ?? '', 'lab.range', 10),
      h('td', null, h('label', { class: 'check' }, abnormal, ' ', t('lab.abnormal'))),
      h('td', null, h('button', { type: 'button', class: 'small', 'data-role': 'remove', onclick: () => tr.remove() }, t('history.remove'))));
    body.append(tr);
    if (focus) tr.querySelector('input')?.focus();
  };
  for (const r of rows) add(r);
  if (rows.length === 0) add();
  const el = h('fieldset', { class: 'lab-editor', 'data-field': 'data' },
    h('legend', null, t('lab.values')),
    h('table', { class: 'lab-table editing' },
      h('thead', null, h('tr', null,
        h('th', null, t('lab.test')), h('th', null, t('lab.value')), h('th', null, t('lab.unit')), h('th', null, t('lab.range')), h('th', null, t('lab.flag')), h('th', null, ''))),
      body),
    h('button', { type: 'button', class: 'small', 'data-role': 'add-row', onclick: () => add(undefined, true) }, t('lab.addRow')));
  const read = (): LabRow[] => [...body.querySelectorAll('tr')].map((tr) => {
    const v = (f: string) => tr.querySelector<HTMLInputElement>(`[data-field="${f}"]`);
    return { test: v('test')?.value ?? '', value: v('value')?.value ?? '', unit: v('unit')?.value ?? '', range: v('range')?.value ?? '', abnormal: !!v('abnormal')?.checked };
  });
  const focusCell = (row: number, field: string) => body.querySelectorAll('tr')[row]?.querySelector<HTMLInputElement>(`[data-field="${field}"]`)?.focus();
  return { el, rows: read, focusCell };
}
