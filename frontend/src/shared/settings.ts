import { h } from './dom';
import { currencies, currency, locale, locales, setCurrency, setLocale, t, type Locale } from './i18n';

/**
 * localeSettings is the language and currency pickers both apps show:
 * dates, times and amounts follow them. The choice is kept (setLocale,
 * setCurrency); changed then draws the page again in the new words.
 */
export function localeSettings(changed: () => void): HTMLElement {
  const lang = h('select', { id: 'locale', 'aria-label': t('settings.language') },
    locales.map((l) => h('option', { value: l }, t(l === 'fr-FR' ? 'settings.fr' : 'settings.en')))) as HTMLSelectElement;
  lang.value = locale();
  lang.addEventListener('change', () => {
    setLocale(lang.value as Locale);
    changed();
  });
  const money = h('select', { id: 'currency', 'aria-label': t('settings.currency') }, currencies.map((c) => h('option', { value: c }, c))) as HTMLSelectElement;
  money.value = currency();
  money.addEventListener('change', () => {
    setCurrency(money.value);
    changed();
  });
  return h('span', { class: 'settings' }, lang, money);
}
