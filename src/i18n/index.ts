// UI language: i18next with English and Japanese resources, detected from the browser, and the
// user's choice remembered in localStorage under `slip-lab-language`.

import i18n from 'i18next';
import LanguageDetector from 'i18next-browser-languagedetector';
import { initReactI18next } from 'react-i18next';
import appEn from './locales/app.en.json';
import appJa from './locales/app.ja.json';
import panelsEn from './locales/panels.en.json';
import panelsJa from './locales/panels.ja.json';
import costsEn from './locales/costs.en.json';
import costsJa from './locales/costs.ja.json';
import presenterEn from './locales/presenter.en.json';
import presenterJa from './locales/presenter.ja.json';

// Four resource files per language: the panels', the app shell's, what a defense costs (the
// trade-off panel, the sweep, the report button), and the presenter's slides and speaker notes.
// They live here, below both src/ui and src/app, so neither folder imports the other for its words.
const en = { ...panelsEn, ...appEn, ...costsEn, ...presenterEn };
const ja = { ...panelsJa, ...appJa, ...costsJa, ...presenterJa };

export const languages = ['en', 'ja'] as const;
export type UiLanguage = (typeof languages)[number];

/** localStorage key of the user's language choice. */
export const LANGUAGE_STORAGE_KEY = 'slip-lab-language';

export const resources = { en: { translation: en }, ja: { translation: ja } } as const;

declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    // English is the reference: a key missing from en.json is a type error at its t() call.
    resources: { translation: typeof en };
  }
}

export function isUiLanguage(value: unknown): value is UiLanguage {
  return typeof value === 'string' && (languages as readonly string[]).includes(value);
}

/** `ja-JP` → `ja`; anything we do not ship → `en`. */
export function toUiLanguage(tag: string | undefined): UiLanguage {
  const base = tag?.toLowerCase().split(/[-_]/)[0];
  return isUiLanguage(base) ? base : 'en';
}

/** Keeps `<html lang>` in step, so screen readers and CJK font fallback pick the right language. */
function reflectLanguage(lng: string): void {
  if (typeof document !== 'undefined') document.documentElement.lang = toUiLanguage(lng);
}

i18n.on('languageChanged', reflectLanguage);

void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    resources,
    supportedLngs: [...languages],
    fallbackLng: 'en',
    // 'ja-JP' from the browser resolves to our 'ja'.
    nonExplicitSupportedLngs: true,
    load: 'languageOnly',
    // Resources are bundled: initialise synchronously, so the first render already has its text.
    initAsync: false,
    interpolation: { escapeValue: false }, // React escapes.
    detection: {
      order: ['querystring', 'localStorage', 'navigator', 'htmlTag'],
      lookupQuerystring: 'lang',
      lookupLocalStorage: LANGUAGE_STORAGE_KEY,
      caches: ['localStorage'],
      convertDetectedLanguage: (lng: string) => toUiLanguage(lng),
    },
  });

/** Switches the UI language; the detector stores the choice in localStorage for the next visit. */
export function setLanguage(lang: UiLanguage): Promise<unknown> {
  return i18n.changeLanguage(lang);
}

/** The language the UI shows now. */
export function currentLanguage(): UiLanguage {
  return toUiLanguage(i18n.resolvedLanguage ?? i18n.language);
}

export { i18n };
export default i18n;
