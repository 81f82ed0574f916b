// Sign-in: email and password against POST /v1/auth/login; the problem's detail is shown on failure.

import { login } from "../api.js";
import { field, h } from "../dom.js";
import { lang, setLang, t } from "../i18n.js";

export function mount(main) {
  const notice = h("p", { class: "form-notice notice error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("login.submit"));
  const form = h("form", { class: "login-card", novalidate: true, "aria-labelledby": "login-title" },
    h("div", { class: "login-brand" }, h("span", { class: "logo", "aria-hidden": "true" }, "◉"), t("app.name")),
    h("h1", { id: "login-title" }, t("login.title")),
    notice,
    field(t("login.email"), h("input", { name: "email", type: "email", autocomplete: "username", required: true })),
    field(t("login.password"),
      h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    submit,
    h("button", {
      type: "button", class: "link lang-switch", "data-testid": "lang-switch",
      onclick: () => setLang(lang() === "ar" ? "en" : "ar"),
    }, lang() === "ar" ? "English" : "العربية"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    notice.hidden = true;
    submit.disabled = true;
    try {
      await login(form.elements.email.value.trim(), form.elements.password.value);
      window.dispatchEvent(new Event("engage:signed-in"));
    } catch (error) {
      notice.textContent = error.status === 401 ? t("login.invalid") : error.message;
      notice.hidden = false;
      submit.disabled = false;
      form.elements.password.focus();
    }
  });
  main.append(form);
  form.elements.email.focus();
  return () => {};
}
