// Language and formats. English and Arabic; Arabic turns the whole page right-to-left (`<html dir="rtl">`) and
// the CSS mirrors through logical properties. Numbers and times follow the language; times are shown in the
// organisation's time zone (GET /v1/auth/me), not the browser's, so a supervisor abroad sees the floor's clock.
// Digits stay Latin in Arabic (`-u-nu-latn`): phone numbers, ids and figures read the same on both screens.

import { serverNow } from "./api.js";
import en from "./i18n/en.js";
import ar from "./i18n/ar.js";

const DICTIONARIES = { en, ar };
const KEY = "engage.lang";
const listeners = new Set();
let current = pick(localStorage.getItem(KEY) || (navigator.language || "en").slice(0, 2));
let zone = "UTC";

function pick(lang) {
  return lang in DICTIONARIES ? lang : "en";
}

export function lang() {
  return current;
}

export function locale() {
  return current === "ar" ? "ar-AE-u-nu-latn" : "en-GB";
}

export function setLang(next) {
  current = pick(next);
  localStorage.setItem(KEY, current);
  apply();
  for (const listener of listeners) listener(current);
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function apply() {
  document.documentElement.lang = current;
  document.documentElement.dir = current === "ar" ? "rtl" : "ltr";
  document.title = t("app.title");
}

export function setZone(timezone) {
  zone = timezone || "UTC";
}

export function timeZone() {
  return zone;
}

// `t("desk.callsToday", {count: 3})`: the current language's text, else English, else the key itself (so a
// missing text shows up in review rather than as an empty label). `{name}` placeholders are replaced.
export function t(key, vars) {
  const text = DICTIONARIES[current][key] ?? en[key] ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

// Adds texts to both dictionaries (a view's own texts, kept beside it).
export function extend(texts) {
  for (const [language, entries] of Object.entries(texts)) Object.assign(DICTIONARIES[language], entries);
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(
    value,
  );
}

// `value` in percent (the API's rates are percents: 2.5 means 2.5 %).
export function fmtPercent(value, digits = 1) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(locale(), {
    style: "percent",
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value / 100);
}

export function fmtTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale(), { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .format(new Date(iso));
}

export function fmtDateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(locale(), { timeZone: zone, dateStyle: "medium", timeStyle: "short" }).format(
    new Date(iso),
  );
}

// 75 → "1:15", 3725 → "1:02:05".
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

// -- dates in the organisation's zone ----------------------------------------------------------------------------
// A date picked in a form means that day on the floor's clock, not the browser's.

function wallClock(instantMs, z) {
  return Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: z, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(instantMs)).map((p) => [p.type, p.value]),
  );
}

// The zone's offset from UTC at `instantMs`, in milliseconds.
function offsetMs(instantMs, z) {
  const p = wallClock(instantMs, z);
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour) % 24, Number(p.minute),
    Number(p.second));
  return asUtc - Math.floor(instantMs / 1000) * 1000;
}

// "2026-06-12" (a day in the organisation's zone) and "09:30:00" → the ISO instant of that wall-clock time.
export function zonedInstant(date, time = "00:00:00", z = zone) {
  const [y, m, d] = date.split("-").map(Number);
  const [hh, mm, ss] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh || 0, mm || 0, ss || 0);
  let guess = wall - offsetMs(wall, z);
  guess = wall - offsetMs(guess, z); // again at the instant found: right across a DST change
  return new Date(guess).toISOString();
}

export function todayInZone(now = serverNow(), z = zone) {
  const p = wallClock(now, z);
  return `${p.year}-${p.month}-${p.day}`;
}

export function shiftDate(date, days) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

// The first instant of a day and the last (inclusive) one, in the organisation's zone.
export function dayStart(date) {
  return zonedInstant(date, "00:00:00");
}

export function dayEnd(date) {
  return new Date(new Date(zonedInstant(shiftDate(date, 1), "00:00:00")).getTime() - 1).toISOString();
}

// The start of today in the organisation's zone, as an ISO instant (for "my calls today").
export function startOfToday(now = serverNow()) {
  return dayStart(todayInZone(now));
}

// A `datetime-local` input's value ("2026-12-08T09:30"), read as a wall-clock time in the organisation's zone,
// as an ISO instant; null for an empty value. (The browser would read it in its own zone.)
export function zonedInputToIso(value) {
  if (!value) return null;
  const [date, time] = value.split("T");
  return zonedInstant(date, `${time}:00`.slice(0, 8));
}
