import { concerns, type Ctx, type Topics, type View } from '../context';
import { confirmButton, h, replace } from '../../shared/dom';
import { clock } from '../format';
import { other, proposedSurvivor, reasonText, tabLabel, type DupPair, type DupPatient } from '../duplicates';

// Possible duplicates: pairs of patients the server flagged (same
// normalised names and birth date, or the same identity document number),
// both registrations side by side, with "merge into …" (the administrator
// chooses which record stays) and "not a duplicate" (with a reason). A
// merge moves appointments, prescriptions and documents to the record that
// stays and removes the other on every workstation (docs/duplicates.md).

export function duplicatesView(ctx: Ctx, onCount: (open: number) => void): View {
  const list = h('div', { id: 'duplicates' });
  const el = h(
    'section',
    { id: 'view-duplicates', class: 'view' },
    h(
      'div',
      { class: 'panel' },
      h('h2', null, 'Possible duplicates'),
      h('p', { class: 'hint' }, 'Two desks may register the same person while offline. Both records are kept until you decide: merging moves every appointment, prescription and document to the record you keep and removes the other on every workstation.'),
      list,
    ),
  );

  function side(p: DupPatient): HTMLElement {
    return h(
      'td',
      { 'data-patient-id': p.id },
      h('strong', null, `${p.firstName} ${p.lastName}`),
      h('div', { class: 'sub' }, `born ${p.birthDate.slice(0, 10)}`),
      h('div', { class: 'sub' }, `ID number: ${p.idNumber ?? '—'}`),
      h('div', { class: 'sub' }, `phone: ${p.phone || '—'}`),
      h('div', { class: 'sub' }, `${p.appointments} appointment${p.appointments === 1 ? '' : 's'}`),
      h('div', { class: 'sub' }, `registered ${clock(p.createdAt, ctx.now())}${p.registeredOn ? ` on ${p.registeredOn}` : ''}`),
    );
  }

  function row(p: DupPair): HTMLElement {
    const keep = proposedSurvivor(p);
    const mergeInto = (survivor: DupPatient) =>
      confirmButton(`Merge into ${survivor.firstName} ${survivor.lastName} (${survivor.id.slice(0, 8)})`, 'Click again to merge', {
        class: survivor.id === keep.id ? 'small primary' : 'small',
        'data-merge-into': survivor.id,
      }, async () => {
        const loser = other(p, survivor);
        try {
          const r = await ctx.api.post<{ appointments: number; prescriptions: number; documents: number }>('/api/v1/admin/patients/merge', {
            survivorId: survivor.id,
            loserId: loser.id,
          });
          ctx.toast(`Merged: ${r.appointments} appointment(s), ${r.prescriptions} prescription(s) and ${r.documents} document(s) moved to ${survivor.firstName} ${survivor.lastName}.`);
          await load();
        } catch (err) {
          ctx.toast((err as Error).message, 'error');
        }
      });
    const note = h('input', { type: 'text', placeholder: 'why they differ', maxlength: 2000, 'aria-label': 'Reason they are different people' }) as HTMLInputElement;
    const dismiss = h('button', { type: 'button', class: 'small', 'data-dismiss': '' }, 'Not a duplicate');
    dismiss.addEventListener('click', async () => {
      try {
        await ctx.api.post('/api/v1/admin/duplicates/dismiss', { patientA: p.a.id, patientB: p.b.id, note: note.value });
        ctx.toast('Marked as different people.');
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
      h('td', null, reasonText(p.reason), h('div', { class: 'sub' }, `flagged ${clock(p.detectedAt, ctx.now())}`)),
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
        ? h('p', { class: 'empty' }, 'No possible duplicates.')
        : h(
            'table',
            { class: 'data' },
            h('thead', null, h('tr', null, h('th', null, 'Patient'), h('th', null, 'Patient'), h('th', null, 'Why'), h('th', null, 'Decide'))),
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
