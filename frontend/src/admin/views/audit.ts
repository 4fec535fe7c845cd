import type { Ctx, Topics, View } from '../context';
import { formValues, h, replace } from '../../shared/dom';
import { chainCell, clock, reissueLine, resolutionLine, shortId, typedValues } from '../format';
import type { AuditEntry, AuditPage, Device, User } from '../types';
import { dataTable, panel, view } from './layout';
import { actDone, subjectLine } from '../../shared/acts';
import { DatePattern, datePlaceholder, parseDay, roleName, t } from '../../shared/i18n';

// Audit search: every act ever received, by patient (the acts on the
// patient and on their appointments, prescriptions, results and
// documents), author, workstation, outcome and time range; newest first,
// a page at a time.

export function auditView(ctx: Ctx): View {
  const patientInput = h('input', { name: 'patientName', list: 'audit-patients', placeholder: t('audit.patientPlaceholder'), autocomplete: 'off' }) as HTMLInputElement;
  const patientList = h('datalist', { id: 'audit-patients' });
  const patientId = h('input', { type: 'hidden', name: 'patient' }) as HTMLInputElement;
  const userSel = h('select', { name: 'user' }, h('option', { value: '' }, t('audit.anyone')));
  const deviceSel = h('select', { name: 'device' }, h('option', { value: '' }, t('audit.any')));
  // Days typed as dd/mm/yyyy, as everywhere (no browser date picker).
  const day = (name: string) => h('input', { type: 'text', name, inputmode: 'numeric', pattern: DatePattern, placeholder: datePlaceholder(), size: 10 });
  const form = h(
    'form',
    { id: 'audit-form', class: 'inline-form' },
    h('label', null, t('audit.patient'), patientInput, patientList, patientId),
    h('label', null, t('adm.author'), userSel),
    h('label', null, t('adm.workstation'), deviceSel),
    h(
      'label',
      null,
      t('adm.outcome'),
      h('select', { name: 'outcome' }, h('option', { value: '' }, t('audit.any')), h('option', { value: 'applied' }, t('audit.applied')), h('option', { value: 'rejected' }, t('audit.rejected')), h('option', { value: 'deferred' }, t('audit.onHold'))),
    ),
    h(
      'label',
      null,
      t('adm.chain'),
      h('select', { name: 'chain' }, h('option', { value: '' }, t('audit.any')), h('option', { value: 'broken' }, t('audit.brokenOnly'))),
    ),
    h('label', null, t('audit.from'), day('since')),
    h('label', null, t('audit.to'), day('until')),
    h('button', { type: 'submit', class: 'primary' }, t('audit.search')),
    h('p', { class: 'form-error', role: 'alert' }),
  ) as HTMLFormElement;

  let lookup = 0;
  const matches = new Map<string, string>(); // "Name (birth date)" -> id
  patientInput.addEventListener('input', async () => {
    const q = patientInput.value.trim();
    patientId.value = matches.get(q) ?? '';
    if (patientId.value || q.length < 2) return;
    const mine = ++lookup;
    const { patients } = await ctx.api.get<{ patients: { id: string; name: string; birthDate: string }[] }>(`/api/v1/admin/patients?q=${encodeURIComponent(q)}`);
    if (mine !== lookup) return;
    matches.clear();
    replace(
      patientList,
      patients.map((p) => {
        const text = `${p.name} (${p.birthDate})`;
        matches.set(text, p.id);
        return h('option', { value: text });
      }),
    );
  });

  const rows = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, t('audit.older'));
  const info = h('p', { class: 'hint', id: 'audit-info' }, t('audit.choose'));
  let next = '';
  let query = '';

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = formValues(form) as Record<string, string>;
    const q = new URLSearchParams({ limit: '50' });
    const pid = v.patient || (/^[0-9a-f-]{36}$/i.test(v.patientName ?? '') ? v.patientName : '');
    if (v.patientName && !pid) {
      form.querySelector('.form-error')!.textContent = t('audit.pickPatient');
      return;
    }
    form.querySelector('.form-error')!.textContent = '';
    if (pid) q.set('patient', pid);
    for (const k of ['user', 'device', 'outcome', 'chain']) if (v[k]) q.set(k, v[k]);
    // From the start of the first day to the end of the last, local time.
    for (const [k, plus] of [['since', 0], ['until', 1]] as const) {
      const d = parseDay(v[k] ?? '');
      if (d.error) {
        form.querySelector('.form-error')!.textContent = d.error;
        return;
      }
      if (d.iso) {
        const [y, m, dd] = d.iso.split('-').map(Number);
        q.set(k, new Date(y!, m! - 1, dd! + plus).toISOString());
      }
    }
    query = q.toString();
    next = '';
    replace(rows);
    await page();
  });
  more.addEventListener('click', () => void page());

  async function page(): Promise<void> {
    try {
      const p = await ctx.api.get<AuditPage>(`/api/v1/admin/audit?${query}${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      rows.append(...p.items.map(row));
      next = p.next;
      more.hidden = !next;
      const n = rows.children.length;
      info.textContent = n === 0 ? t('audit.none') : next ? t('audit.shownMore', { n }) : n === 1 ? t('audit.shownOne') : t('audit.shown', { n });
    } catch (err) {
      form.querySelector('.form-error')!.textContent = (err as Error).message;
    }
  }

  function row(e: AuditEntry): HTMLTableRowElement {
    const values = typedValues(e.args, e.field ?? '')
      .map((v) => `${v.path} = ${v.text}`)
      .join('\n');
    const chain = chainCell(e.chain);
    return h(
      'tr',
      { class: e.outcome === 'rejected' ? 'rejected-row' : '', 'data-key': `${e.deviceId}:${e.seq}`, 'data-chain': e.chain?.status ?? 'none' },
      h('td', null, clock(e.occurredAt, ctx.now()), h('div', { class: 'sub' }, t('adm.clinicalTime'))),
      h('td', null, clock(e.receivedAt, ctx.now()), h('div', { class: 'sub' }, t('adm.syncTime'))),
      h('td', null, actDone(e.name), h('div', { class: 'sub', 'data-role': 'subject' }, subjectLine(e.subject))),
      h('td', null, e.author ? `${e.author.name} (${roleName(e.author.role)})` : e.chain?.claimedAuthor ? h('span', { title: t('audit.claimedTitle') }, t('audit.claimed', { id: shortId(e.chain.claimedAuthor) })) : '-'),
      h('td', null, e.deviceName || shortId(e.deviceId), h('div', { class: 'sub' }, t('audit.seq', { seq: e.seq }))),
      h('td', { class: 'chain', title: chain.title }, chain.text && h('code', null, chain.text), h('div', null, h('span', { class: `badge badge-${chain.cls}` }, chain.badge))),
      h('td', null, e.outcome === 'applied'
        ? [h('span', { class: 'badge badge-ok' }, t('audit.applied')), reissueLine(e) ? h('div', { class: 'sub reissue-of' }, reissueLine(e)) : null]
        : e.outcome === 'deferred' ? [h('span', { class: 'badge badge-amber' }, t('audit.onHold')), h('div', { class: 'sub' }, e.message ?? '')]
        : [h('span', { class: 'badge badge-red' }, e.code ?? t('audit.rejected')), h('div', { class: 'sub' }, e.message ?? ''),
          h('div', { class: 'sub resolution' }, resolutionLine(e, ctx.now())), reissueLine(e) ? h('div', { class: 'sub reissue-of' }, reissueLine(e)) : null]),
      // The act's internal name, its row and every value as entered, for whoever traces it.
      h('td', null, h('details', { class: 'details' }, h('summary', null, t('details.summary')),
        h('pre', null, `${e.name}${e.target ? `\n${e.target.table} ${e.target.id}` : ''}\n${values}`))),
    );
  }

  const heads = [t('adm.occurred'), t('adm.received'), t('waiting.act'), t('adm.author'), t('adm.workstation'), t('adm.chain'), t('adm.outcome'), t('details.summary')];
  const el = view('view-audit', panel(h('h2', null, t('adm.auditTitle')), form), panel(info, dataTable('audit', heads, rows), more));

  let loadedChoices = false;
  return {
    el,
    async refresh(topics: Topics) {
      // The choices are re-read when the tab is opened, not on every tick.
      if (loadedChoices && !topics.has('all')) return;
      const [{ users }, { devices }] = await Promise.all([
        ctx.api.get<{ users: User[] }>('/api/v1/admin/users'),
        ctx.api.get<{ devices: Device[] }>('/api/v1/admin/devices'),
      ]);
      // Rebuilt choices keep what the administrator picked.
      const picked = [userSel.value, deviceSel.value];
      replace(userSel, h('option', { value: '' }, t('audit.anyone')), users.map((u) => h('option', { value: u.id }, `${u.name} (${roleName(u.role)})`)));
      replace(deviceSel, h('option', { value: '' }, t('audit.any')), devices.map((d) => h('option', { value: d.id }, d.name)));
      [userSel.value, deviceSel.value] = picked as [string, string];
      for (const sel of [userSel, deviceSel]) if (sel.selectedIndex < 0) sel.value = '';
      loadedChoices = true;
    },
  };
}
