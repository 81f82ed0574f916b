// What the admin views share: a page heading, a list's load error (with a retry), a confirmation
// dialog, dates in the organisation's time zone (a date picked in a form means that day on the floor's clock, not
// the browser's), copying to the clipboard, and a few small pieces of form plumbing.

import { dialog, h, replace, uid } from "../../dom.js";
import { extend, lang, t } from "../../i18n.js";

extend({
  en: {
    "admin.retry": "Try again",
    "admin.loadFailed": "Could not load this: {message}",
    "admin.confirm": "Confirm",
    "admin.copy": "Copy",
    "admin.copied": "Copied to the clipboard.",
    "admin.copyFailed": "Could not copy: select the text and copy it yourself.",
    "admin.working": "Working…",
    "admin.optional": "Optional",
    "admin.choose": "Choose…",
  },
  ar: {
    "admin.retry": "إعادة المحاولة",
    "admin.loadFailed": "تعذّر التحميل: {message}",
    "admin.confirm": "تأكيد",
    "admin.copy": "نسخ",
    "admin.copied": "تم النسخ إلى الحافظة.",
    "admin.copyFailed": "تعذّر النسخ: حدّد النص وانسخه يدوياً.",
    "admin.working": "جارٍ التنفيذ…",
    "admin.optional": "اختياري",
    "admin.choose": "اختر…",
  },
});

export function pageHead(title, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, title), ...extra);
}

// The notice a form shows its problem in (`showProblem` fills it).
export function formNotice() {
  return h("p", { class: "form-notice notice error", role: "alert", hidden: true });
}

export function clearNotice(form) {
  const notice = form.querySelector(".form-notice");
  if (notice) notice.hidden = true;
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
}

// A list that could not be read: the problem and a button that tries again.
export function showLoadError(el, error, retry) {
  replace(el, h("div", { class: "notice error", role: "alert" }, t("admin.loadFailed", { message: error.message }), " ",
    h("button", { type: "button", class: "secondary", onclick: retry }, t("admin.retry"))));
}

// Disables `button` while `work()` runs (so a double click sends one request).
export async function busy(button, work) {
  if (button) button.disabled = true;
  try {
    return await work();
  } finally {
    if (button) button.disabled = false;
  }
}

// A native modal asking to confirm; resolves true when confirmed.
export function confirmDialog(title, body, { confirm, danger = false, testid } = {}) {
  return new Promise((resolve) => {
    let confirmed = false;
    const ok = h("button", {
      type: "button", class: danger ? "danger" : "primary", "data-testid": testid || "confirm-ok",
      onclick: (event) => {
        confirmed = true;
        event.target.closest("dialog").close("confirm");
      },
    }, confirm || t("admin.confirm"));
    const cancel = h("button", {
      type: "button", class: "secondary", onclick: (event) => event.target.closest("dialog").close("cancel"),
    }, t("action.cancel"));
    const content = typeof body === "string" ? h("p", {}, body) : body;
    dialog(title, content, { actions: [cancel, ok] }).then(() => resolve(confirmed));
  });
}

export function statusKind(status) {
  return { active: "ok", paused: "warn", draft: "info", completed: "" }[status] ?? "";
}

// Only the fields that have a value (optional fields left empty are not sent).
export function compact(values) {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== null && v !== undefined && v !== ""));
}

export function option(value, label, selected) {
  return h("option", { value, selected: selected ? true : null }, label);
}

export function debounce(fn, ms) {
  let timer = null;
  const call = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

export async function copyText(text, fallbackInput) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The Clipboard API needs a secure context (https or localhost); elsewhere select the text and copy it.
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
      try {
        return document.execCommand("copy");
      } catch {
        return false;
      }
    }
    return false;
  }
}

// Dates in the organisation's zone live with the other formats, in i18n.js.
export { dayEnd, dayStart, shiftDate, todayInZone, zonedInstant } from "../../i18n.js";

// "AE" → "United Arab Emirates" / "الإمارات العربية المتحدة".
export function regionName(code) {
  try {
    return new Intl.DisplayNames([lang()], { type: "region" }).of(code) || code;
  } catch {
    return code;
  }
}

// A read-only value the user may copy (a secret, a hash): a labelled input and a Copy button.
export function copyField(label, value, { testid, copyTestid } = {}) {
  const id = uid("copy");
  const input = h("input", { id, type: "text", readonly: true, value, class: "mono", spellcheck: "false",
    "data-testid": testid, dir: "ltr" });
  const status = h("span", { class: "muted", role: "status" });
  const button = h("button", { type: "button", class: "secondary", "data-testid": copyTestid,
    onclick: async () => {
      const ok = await copyText(value, input);
      status.textContent = ok ? t("admin.copied") : t("admin.copyFailed");
    } }, t("admin.copy"));
  return h("div", { class: "field copy-field" }, h("label", { for: id }, label),
    h("div", { class: "copy-row" }, input, button), status);
}

// A definition list of [term, value] pairs (value may be a node); empty values are shown as "—".
export function facts(pairs, attrs = {}) {
  return h("dl", { class: "facts", ...attrs }, pairs.filter(Boolean).map(([term, value]) => [
    h("dt", {}, term),
    h("dd", {}, value === null || value === undefined || value === "" ? "—" : value),
  ]));
}
