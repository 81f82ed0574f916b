// Caller IDs (admins): the CLI groups (the sets of numbers a campaign may present to the people it calls) and a
// form to create one with its numbers, pasted one a line or separated by commas.

import { all, api } from "../../api.js";
import { field, formValues, h, replace, section, showProblem, table, toast } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, t } from "../../i18n.js";
import { busy, clearNotice, formNotice, pageHead, showLoadError } from "./shared.js";

extend({
  en: {
    "cli.title": "Caller IDs",
    "cli.intro": "A caller ID group is the set of numbers a campaign may show to the people it calls. Every number must belong to your organisation.",
    "cli.list": "Caller ID groups",
    "cli.name": "Name",
    "cli.numbers": "Numbers",
    "cli.count": "Count",
    "cli.created": "Created",
    "cli.empty": "No caller ID groups yet.",
    "cli.new": "New caller ID group",
    "cli.numbersHint": "One number a line (or separated by commas), in international format, for example +97142001000.",
    "cli.numbersCount": "{count} distinct numbers.",
    "cli.saved": "Caller ID group “{name}” created.",
    "cli.noNumbers": "Enter at least one number.",
    "cli.tooMany": "A group holds at most 500 numbers.",
  },
  ar: {
    "cli.title": "أرقام المتصل",
    "cli.intro": "مجموعة أرقام المتصل هي الأرقام التي يمكن أن تظهر للأشخاص الذين تتصل بهم الحملة. ويجب أن يكون كل رقم مملوكاً لمؤسستكم.",
    "cli.list": "مجموعات أرقام المتصل",
    "cli.name": "الاسم",
    "cli.numbers": "الأرقام",
    "cli.count": "العدد",
    "cli.created": "تاريخ الإنشاء",
    "cli.empty": "لا توجد مجموعات لأرقام المتصل بعد.",
    "cli.new": "مجموعة أرقام متصل جديدة",
    "cli.numbersHint": "رقم في كل سطر (أو افصل بينها بفواصل)، بالصيغة الدولية، مثل ‎+97142001000.",
    "cli.numbersCount": "عدد الأرقام المختلفة: {count}.",
    "cli.saved": "تم إنشاء مجموعة أرقام المتصل «{name}».",
    "cli.noNumbers": "أدخل رقماً واحداً على الأقل.",
    "cli.tooMany": "تتسع المجموعة لـ 500 رقم كحد أقصى.",
  },
});

export function splitNumbers(text) {
  return [...new Set((text || "").split(/[\s,;،]+/).map((n) => n.trim()).filter(Boolean))];
}

export function mount(main) {
  let groups = [];
  let closed = false;
  const listEl = h("div", { "data-testid": "cli-group-list" });

  async function load() {
    try {
      groups = await all("/v1/cli-groups", { limit: 200 }, 2000);
    } catch (error) {
      if (closed) return;
      showLoadError(listEl, error, () => load());
      return;
    }
    if (closed) return;
    groups.sort((a, b) => a.name.localeCompare(b.name));
    render();
  }

  function render() {
    replace(listEl, table([
      { label: t("cli.name"), render: (g) => g.name },
      { label: t("cli.count"), class: "num", render: (g) => fmtNumber(g.numbers.length) },
      { label: t("cli.numbers"), render: (g) => h("ul", { class: "numbers" },
        g.numbers.map((n) => h("li", { class: "phone" }, n))) },
      { label: t("cli.created"), render: (g) => fmtDateTime(g.created_at) },
    ], groups, { empty: t("cli.empty"), rowAttrs: (g) => ({ "data-testid": "cli-group-row", "data-id": g.id }) }));
  }

  const count = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  const numbers = h("textarea", { name: "numbers", rows: 6, required: true, dir: "ltr", spellcheck: "false",
    "data-testid": "cli-group-numbers" });
  numbers.addEventListener("input", () => {
    const n = splitNumbers(numbers.value).length;
    count.textContent = n ? t("cli.numbersCount", { count: fmtNumber(n) }) : "";
  });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "cli-group-create" },
    t("action.create"));
  const form = h("form", { class: "stack", novalidate: true, "data-testid": "cli-group-form" },
    formNotice(),
    field(t("cli.name"), h("input", { name: "name", required: true, maxlength: 200, autocomplete: "off",
      "data-testid": "cli-group-name" })),
    field(t("cli.numbers"), numbers, t("cli.numbersHint")),
    count,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearNotice(form);
    const v = formValues(form);
    const list = splitNumbers(numbers.value);
    if (!list.length || list.length > 500) {
      const message = list.length ? t("cli.tooMany") : t("cli.noNumbers");
      showProblem(form, { message, problem: {}, fieldErrors: { numbers: message } });
      return;
    }
    try {
      const created = await busy(submit, () => api("POST", "/v1/cli-groups", { body: { name: v.name || "", numbers: list } }));
      toast(t("cli.saved", { name: created.name }), "ok");
      form.reset();
      count.textContent = "";
      groups = [...groups, created].sort((a, b) => a.name.localeCompare(b.name));
      render();
    } catch (error) {
      showProblem(form, error);
    }
  });

  replace(main,
    pageHead(t("cli.title")),
    h("p", { class: "muted" }, t("cli.intro")),
    h("div", { class: "cols-2 wide-start" },
      section(t("cli.list"), listEl),
      section(t("cli.new"), form)));
  load();
  return () => {
    closed = true;
  };
}
