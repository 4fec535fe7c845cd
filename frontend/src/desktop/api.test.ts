import { beforeAll, describe, expect, it } from 'vitest';
import { setLocale } from '../shared/i18n';
import { toProblem } from './api';

beforeAll(() => setLocale('en-GB'));

// What desktop/app FormatError sends: the Problem's JSON text.
const sent = JSON.stringify({ code: 'UNAUTHENTICATED', message: 'Wrong e-mail or password.' });

describe('toProblem', () => {
  it('reads the native runtime shape: an Error whose message is the JSON text', () => {
    expect(toProblem(new Error(sent))).toEqual({ code: 'UNAUTHENTICATED', message: 'Wrong e-mail or password.' });
  });
  it('reads the dev IPC shape: the JSON text itself', () => {
    expect(toProblem(sent)).toEqual({ code: 'UNAUTHENTICATED', message: 'Wrong e-mail or password.' });
  });
  it('keeps the refused field', () => {
    const p = toProblem(new Error(JSON.stringify({ code: 'VALIDATION_FAILED', message: 'Temperature 46 °C is above 45 °C.', field: 'vitals.temperature' })));
    expect(p).toEqual({ code: 'VALIDATION_FAILED', message: 'Temperature 46 °C is above 45 °C.', field: 'vitals.temperature' });
  });
  it('reads a Problem object as it is', () => {
    expect(toProblem({ code: 'FORBIDDEN', message: 'No.' })).toEqual({ code: 'FORBIDDEN', message: 'No.' });
  });
  it('says "Unexpected error (code): …" for any other shape, never [object Object]', () => {
    expect(toProblem(new Error('Call to main.App.Login timed out. Request ID: 7')).message)
      .toBe('Unexpected error (Error): Call to main.App.Login timed out. Request ID: 7');
    expect(toProblem('disk full').message).toBe('Unexpected error (INTERNAL): disk full');
    expect(toProblem({ code: 'X_Y', detail: 1 }).message).toBe('Unexpected error (X_Y): {"code":"X_Y","detail":1}');
    expect(toProblem(new Error('[object Object]')).message).toBe('Unexpected error (INTERNAL): the engine sent an error this screen cannot read.');
    expect(toProblem(42).message).toBe('Unexpected error (INTERNAL): 42');
    for (const e of [new Error('[object Object]'), {}, { a: 1 }, [1], null, undefined]) {
      expect(toProblem(e).message).not.toContain('[object Object]');
    }
  });
});
