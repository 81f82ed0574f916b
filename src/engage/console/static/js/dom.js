// Building the page: `h()` makes elements (text is always set as text, never parsed as HTML, so a contact's
// name cannot inject markup), plus the few pieces every view shares: tables, forms, notices, dialogs.

import { t } from "./i18n.js";

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "style") el.style.cssText = value; // through CSSOM: the CSP refuses style attributes
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
export function uid(prefix = "f") {
  ids += 1;
  return `${prefix}-${ids}`;
}

// A labelled input: `field(t("users.email"), h("input", {name: "email", type: "email", required: true}))`.
// The label is tied to the control (`for`/`id`), and a problem's field error appears under it.
export function field(label, control, hint) {
  const id = control.id || uid();
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, role: "alert", hidden: true });
  control.setAttribute("aria-describedby", `${id}-error`);
  return h("div", { class: "field", dataset: { field: control.name || "" } },
    h("label", { for: id }, label), control, hint ? h("p", { class: "hint" }, hint) : null, error);
}

// Shows an ApiError on a form: the problem's field errors beside their inputs, its detail in the form's notice.
export function showProblem(form, error) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  const fields = error.fieldErrors || {};
  let placed = false;
  for (const [name, message] of Object.entries(fields)) {
    const box = form.querySelector(`.field[data-field="${CSS.escape(name.split(".").pop())}"] .field-error`);
    if (box) {
      box.textContent = message;
      box.hidden = false;
      placed = true;
    }
  }
  const notice = form.querySelector(".form-notice");
  if (notice) {
    notice.textContent = placed && !error.problem.detail ? t("form.fix") : error.message;
    notice.className = "form-notice notice error";
    notice.hidden = false;
  }
}

export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.type === "number") out[el.name] = el.value === "" ? null : Number(el.value);
    else if (el.type === "file") out[el.name] = el.files[0] || null;
    else out[el.name] = el.value.trim() === "" ? null : el.value.trim();
  }
  return out;
}

// `table([{key: "name", label: t("x"), render: (row) => ...}], rows, {empty: t("none")})`.
export function table(columns, rows, { empty, caption, rowAttrs } = {}) {
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label))));
  const body = h("tbody", {},
    rows.length === 0
      ? h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, empty || t("table.empty")))
      : rows.map((row) => h("tr", rowAttrs ? rowAttrs(row) : {},
        columns.map((c) => h("td", { class: c.class }, c.render ? c.render(row) : row[c.key] ?? "—")))));
  return h("div", { class: "table-wrap" }, h("table", {}, caption ? h("caption", {}, caption) : null, head, body));
}

// A transient message for the whole page (saved, failed, ...), announced to screen readers.
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  region.append(el);
  setTimeout(() => el.remove(), 6000);
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

export function section(title, ...children) {
  const id = uid("s");
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

// A modal dialog (the native <dialog>: focus is trapped and Escape closes it). Resolves when closed.
export function dialog(title, body, { actions } = {}) {
  const id = uid("d");
  const el = h("dialog", { class: "dialog", "aria-labelledby": id },
    h("h2", { id }, title), body,
    h("div", { class: "actions" }, actions || h("button", { type: "button", onclick: () => el.close() }, t("action.close"))));
  document.body.append(el);
  el.showModal();
  return new Promise((resolve) => el.addEventListener("close", () => {
    el.remove();
    resolve(el.returnValue);
  }));
}

// Starts a file download of `blob` named `filename`.
export function download(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = h("a", { href, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}
