import { concerns, type Ctx, type Topics, type View } from '../context';
import { confirmButton, h, replace } from '../../shared/dom';
import { clock } from '../format';
import { fmtDateUTC, t } from '../../shared/i18n';
import { other, proposedSurvivor, reasonText, tabLabel, type DupPair, type DupPatient } from '../duplicates';
import { panel, view } from './layout';

// Possible duplicates: pairs of patients the server flagged (same
// normalised names and birth date, or the same identity document number),
// both registrations side by side, with "merge into …" (the administrator
// chooses which record stays) and "not a duplicate" (with a reason). A
// merge moves appointments, prescriptions and documents to the record that
// stays and removes the other on every workstation (docs/duplicates.md).

export function duplicatesView(ctx: Ctx, onCount: (open: number) => void): View {
  const list = h('div', { id: 'duplicates' });
  const el = view('view-duplicates', panel(h('h2', null, t('dup.tab')), h('p', { class: 'hint' }, t('dup.hint')), list));

  function side(p: DupPatient): HTMLElement {
    return h(
      'td',
      { 'data-patient-id': p.id },
      h('strong', null, `${p.firstName} ${p.lastName}`),
      h('div', { class: 'sub' }, t('record.born', { date: fmtDateUTC(p.birthDate) })),
      h('div', { class: 'sub' }, t('dup.idNumber', { id: p.idNumber ?? '—' })),
      h('div', { class: 'sub' }, t('dup.phoneLine', { phone: p.phone || '—' })),
      h('div', { class: 'sub' }, t(p.appointments === 1 ? 'dup.appointment' : 'dup.appointments', { n: p.appointments })),
      h('div', { class: 'sub' }, p.registeredOn ? t('dup.registeredOn', { when: clock(p.createdAt, ctx.now()), where: p.registeredOn }) : t('dup.registered', { when: clock(p.createdAt, ctx.now()) })),
    );
  }

  function row(p: DupPair): HTMLElement {
    const keep = proposedSurvivor(p);
    const mergeInto = (survivor: DupPatient) =>
      confirmButton(t('dup.mergeInto', { name: `${survivor.firstName} ${survivor.lastName}`, id: survivor.id.slice(0, 8) }), t('dup.mergeConfirm'), {
        class: survivor.id === keep.id ? 'small primary' : 'small',
        'data-merge-into': survivor.id,
      }, async () => {
        const loser = other(p, survivor);
        try {
          const r = await ctx.api.post<{ appointments: number; prescriptions: number; documents: number }>('/api/v1/admin/patients/merge', {
            survivorId: survivor.id,
            loserId: loser.id,
          });
          ctx.toast(t('dup.merged', { appointments: r.appointments, prescriptions: r.prescriptions, documents: r.documents, name: `${survivor.firstName} ${survivor.lastName}` }));
          await load();
        } catch (err) {
          ctx.toast((err as Error).message, 'error');
        }
      });
    const note = h('input', { type: 'text', placeholder: t('dup.whyPlaceholder'), maxlength: 2000, 'aria-label': t('dup.whyLabel') }) as HTMLInputElement;
    const dismiss = h('button', { type: 'button', class: 'small', 'data-dismiss': '' }, t('dup.notDuplicate'));
    dismiss.addEventListener('click', async () => {
      try {
        await ctx.api.post('/api/v1/admin/duplicates/dismiss', { patientA: p.a.id, patientB: p.b.id, note: note.value });
        ctx.toast(t('dup.dismissed'));
        await load();
      } catch (err) {
        ctx.toast((err as Error).message, 'error');
      }
    });
    return h(
      'tr',
      { 'data-pair': `${p.a.id}:${p.b.id}` },
      side(p.a),
      side(p.b),
      h('td', null, reasonText(p.reason), h('div', { class: 'sub' }, t('dup.flagged', { when: clock(p.detectedAt, ctx.now()) }))),
      h('td', { class: 'actions' }, mergeInto(p.a), mergeInto(p.b), h('div', null, note, dismiss)),
    );
  }

  async function load(): Promise<void> {
    const { open, pairs } = await ctx.api.get<{ open: number; pairs: DupPair[] }>('/api/v1/admin/duplicates');
    onCount(open);
    // Keep a half-typed reason and a pending confirmation.
    if (list.contains(document.activeElement) && document.activeElement instanceof HTMLInputElement) return;
    if (list.querySelector('.armed')) return;
    replace(
      list,
      pairs.length === 0
        ? h('p', { class: 'empty' }, t('dup.none'))
        : h(
            'table',
            { class: 'data' },
            h('thead', null, h('tr', null, h('th', null, t('q.patient')), h('th', null, t('q.patient')), h('th', null, t('dup.why')), h('th', null, t('dup.decide')))),
            h('tbody', null, pairs.map(row)),
          ),
    );
  }

  return {
    el,
    async refresh(topics: Topics) {
      if (concerns(topics, 'duplicate_candidates', 'feed')) await load();
    },
  };
}

export { tabLabel };
