// The console's words, the widget's way: one JSON file of texts per
// language in i18n/ (English the fallback for a missing key), "{name}" for
// what is filled in. The static page names its texts with data-i18n
// (textContent) and data-i18n-aria-label, -placeholder, -title; scripts
// call t(). Everything goes in as text.

export const LOCALES = ["en", "nl"];
const OVERRIDE = "baton.console.locale";

let locale = "en";
let texts = {};
let english = {};
const files = {};

// pick turns "nl-BE", "NL" or "nl_NL" into a language the console speaks,
// or "".
export function pick(l) {
  const s = String(l || "").toLowerCase().split(/[-_]/)[0];
  return LOCALES.includes(s) ? s : "";
}

// override is the language this browser chose in the console, or "".
export function override() {
  try { return pick(localStorage.getItem(OVERRIDE)); } catch { return ""; }
}

export function setOverride(l) {
  try {
    if (pick(l)) localStorage.setItem(OVERRIDE, pick(l));
    else localStorage.removeItem(OVERRIDE);
  } catch { /* private mode: this page only */ }
}

// browserLocale is the first of the browser's languages the console speaks.
export function browserLocale() {
  for (const l of navigator.languages || [navigator.language]) {
    if (pick(l)) return pick(l);
  }
  return "";
}

function load(l) {
  if (!files[l]) {
    files[l] = fetch("i18n/" + l + ".json", { cache: "no-cache" })
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({}));
    files[l].then((m) => { if (!Object.keys(m).length) delete files[l]; });
  }
  return files[l];
}

// use switches to language l and relabels the page.
export async function use(l) {
  l = pick(l) || "en";
  const [en, these] = await Promise.all([load("en"), load(l)]);
  english = en;
  texts = these;
  locale = l;
  document.documentElement.lang = l;
  translate(document);
  return l;
}

export function lang() { return locale; }

export function t(key, vars) {
  let s = texts[key] ?? english[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
  return s;
}

// plural picks key + ".one" for 1 and key + ".other" otherwise, with {n}.
export function tn(key, n, vars) {
  return t(key + (n === 1 ? ".one" : ".other"), Object.assign({ n }, vars));
}

const ATTRS = [["i18nAriaLabel", "aria-label"], ["i18nPlaceholder", "placeholder"], ["i18nTitle", "title"]];

// translate relabels every element under root that names its text.
export function translate(root) {
  for (const n of root.querySelectorAll("[data-i18n]")) n.textContent = t(n.dataset.i18n);
  for (const [data, attr] of ATTRS) {
    for (const n of root.querySelectorAll("[data-i18n-" + attr + "]")) n.setAttribute(attr, t(n.dataset[data]));
  }
}

// Formats in the console's language: numbers, clock times and dates.
export function number(n, opts) {
  try { return new Intl.NumberFormat(locale, opts).format(n); } catch { return String(n); }
}

export function dateFormat(opts) {
  return new Intl.DateTimeFormat(locale, opts);
}
