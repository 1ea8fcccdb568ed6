// Small DOM helpers. Every text goes in as text: nothing here parses HTML,
// and links are made only for http and https addresses.

import { t, dateFormat } from "./i18n.js";

export function el(tag, attrs, kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") n.textContent = v;
    else if (k === "class") n.className = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids || []) {
    if (kid !== null && kid !== undefined && kid !== false) n.append(kid);
  }
  return n;
}

export function svg(tag, attrs, kids) {
  const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") n.textContent = v;
    else n.setAttribute(k, v);
  }
  for (const kid of kids || []) if (kid) n.append(kid);
  return n;
}

export function clear(n) {
  while (n.firstChild) n.removeChild(n.firstChild);
  return n;
}

export function $(sel, root) { return (root || document).querySelector(sel); }
export function $$(sel, root) { return Array.from((root || document).querySelectorAll(sel)); }

export function safeURL(href) {
  try {
    const u = new URL(href);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

// richText shows text with http(s) links clickable and [label](url) shown
// by its label, the same way the widget does, so previews are faithful.
export function richText(text) {
  const frag = document.createDocumentFragment();
  const re = /\[([^\]\n]{1,200})\]\(([^)\s]+)\)|(https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]])/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    const href = m[2] || m[3];
    if (safeURL(href)) {
      frag.append(el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow", text: m[1] || m[3] }));
    } else {
      frag.append(m[0]);
    }
    last = re.lastIndex;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

export function uid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2);
}

// fmtTime is a clock time today, a day and a time before, in the
// console's language.
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const recent = Date.now() - d < 20 * 3600 * 1000;
  return dateFormat(recent ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(d);
}

// fmtWait renders a duration in seconds as "45s", "3m 05s" or "2h 10m"
// (the units in the console's language).
export function fmtWait(sec) {
  sec = Math.max(0, Math.floor(sec));
  const two = (n) => String(n).padStart(2, "0");
  if (sec < 60) return t("wait.s", { s: sec });
  const m = Math.floor(sec / 60);
  if (m < 60) return t("wait.ms", { m, s: two(sec % 60) });
  return t("wait.hm", { h: Math.floor(m / 60), m: two(m % 60) });
}

// status shows a short message in an element with role=status, as an
// error or not.
export function say(node, text, isError) {
  node.textContent = text || "";
  node.classList.toggle("error", !!isError);
}

// debounce runs fn once things have been quiet for ms.
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}
