// Campaigns (supervisors, admins): the list with each campaign's progress and abandon rate against its target; a
// form to create one; and, for the campaign selected, its settings, start / pause / complete, the agents assigned
// to it, a CSV upload of contacts, and its diagnostics and staffing forecast (campaign_insight.js). The list re-reads
// itself when a `campaign.*` event arrives (coalesced) and every 30 s for the counters calls move.

import { all, api } from "../../api.js";
import { badge, field, formValues, h, replace, section, showProblem, table, toast } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, fmtPercent, lang, t } from "../../i18n.js";
import { subscribe } from "../../stream.js";
import { loadDiagnostics, renderForecast } from "./campaign_insight.js";
import {
  busy, clearNotice, compact, confirmDialog, debounce, facts, formNotice, option, pageHead, showLoadError,
  statusKind,
} from "./shared.js";

extend({
  en: {
    "campaigns.title": "Campaigns",
    "campaigns.list": "All campaigns",
    "campaigns.new": "New campaign",
    "campaigns.empty": "No campaigns yet. Create the first one with “New campaign”.",
    "campaigns.name": "Name",
    "campaigns.status": "Status",
    "campaigns.mode": "Dialling mode",
    "campaigns.contacts": "Contacts",
    "campaigns.contacted": "Contacted",
    "campaigns.connected": "Connected",
    "campaigns.abandon": "Abandon rate / target",
    "campaigns.overTarget": "Over target",
    "campaigns.open": "Open {name}",
    "campaigns.mode.preview": "Preview",
    "campaigns.mode.progressive": "Progressive",
    "campaigns.mode.power": "Power",
    "campaigns.mode.predictive": "Predictive",
    "campaigns.modeHint.preview": "Agents see each contact first and dial it themselves.",
    "campaigns.modeHint.progressive": "One call per free agent, dialled automatically.",
    "campaigns.modeHint.power": "A fixed number of lines per free agent (the dial ratio).",
    "campaigns.modeHint.predictive": "Dials ahead of agents finishing calls, held to the abandon-rate target.",
    "campaigns.cliGroup": "Caller ID group",
    "campaigns.cliGroupId": "Caller ID group id",
    "campaigns.cliGroupIdHint": "You cannot list caller ID groups; ask an administrator for the group's id.",
    "campaigns.cliNumbers": "{name} ({count} numbers)",
    "campaigns.pacing": "Pacing and limits",
    "campaigns.maxAttempts": "Attempts per contact",
    "campaigns.retryDelay": "Minutes between attempts",
    "campaigns.dialRatio": "Dial ratio (lines per free agent)",
    "campaigns.timezone": "Campaign time zone",
    "campaigns.timezoneHint": "An IANA zone, for example Asia/Dubai or Asia/Riyadh.",
    "campaigns.wrapUp": "Wrap-up time (seconds)",
    "campaigns.abandonTarget": "Abandon-rate target (%)",
    "campaigns.lockout": "Hours before an abandoned contact is called again",
    "campaigns.abandonMessage": "Message played when no agent is free",
    "campaigns.window": "Campaign calling window",
    "campaigns.windowHint": "Optional. Local to each contact; the legal calling hours always apply as well.",
    "campaigns.windowStart": "From",
    "campaigns.windowEnd": "Until",
    "campaigns.windowBoth": "Give both the start and the end of the window, or neither.",
    "campaigns.created": "Campaign “{name}” created.",
    "campaigns.close": "Close campaign",
    "campaigns.settings": "Settings",
    "campaigns.createdAt": "Created",
    "campaigns.startedAt": "Started",
    "campaigns.pausedAt": "Paused",
    "campaigns.completedAt": "Completed",
    "campaigns.noWindow": "Legal calling hours only",
    "campaigns.start": "Start dialling",
    "campaigns.pause": "Pause",
    "campaigns.complete": "Complete",
    "campaigns.started": "Campaign started.",
    "campaigns.paused": "Campaign paused. Calls in progress finish normally.",
    "campaigns.completed": "Campaign completed.",
    "campaigns.completeTitle": "Complete this campaign?",
    "campaigns.completeBody": "“{name}” stops dialling for good; a completed campaign cannot be started again.",
    "campaigns.agents": "Agents",
    "campaigns.assigned": "Assigned agents",
    "campaigns.noAgents": "No agents assigned yet.",
    "campaigns.agentName": "Agent",
    "campaigns.agentEmail": "Email",
    "campaigns.assignedAt": "Assigned",
    "campaigns.assignPick": "Agents to assign",
    "campaigns.assignHint": "Select several with Ctrl (⌘ on a Mac) or Shift.",
    "campaigns.assign": "Assign selected agents",
    "campaigns.assignedCount": "{added} agents assigned ({already} were already on the campaign).",
    "campaigns.assignNone": "Select at least one agent.",
    "campaigns.allAssigned": "Every active agent is already assigned.",
    "campaigns.noDirectory": "The list of agents could not be read, so agents cannot be assigned from here.",
    "campaigns.upload": "Upload contacts",
    "campaigns.uploadHint": "A CSV file with a header row. Columns other than the phone and names are kept as custom fields agents can see.",
    "campaigns.file": "CSV file",
    "campaigns.fileRead": "{rows} rows in the file.",
    "campaigns.fileEmpty": "The file has no rows below its header.",
    "campaigns.phoneColumn": "Phone number column",
    "campaigns.firstColumn": "First name column",
    "campaigns.lastColumn": "Last name column",
    "campaigns.noColumn": "(none)",
    "campaigns.customColumns": "Kept as custom fields: {columns}.",
    "campaigns.noCustom": "No other columns.",
    "campaigns.uploadButton": "Upload contacts",
    "campaigns.uploading": "Uploading {done} of {total} contacts…",
    "campaigns.uploadResult": "Upload result",
    "campaigns.imported": "Imported, ready to dial",
    "campaigns.duplicates": "Duplicates skipped",
    "campaigns.dncFiltered": "On the do-not-call list (stored, not dialled)",
    "campaigns.invalidPhones": "Invalid phone numbers",
    "campaigns.skippedRows": "Rows skipped in the file",
    "campaigns.totalInCampaign": "Contacts in the campaign now",
    "campaigns.rowErrors": "Rows with problems",
    "campaigns.line": "Line",
    "campaigns.column": "Column",
    "campaigns.problem": "Problem",
    "campaigns.noPhone": "No phone number",
    "campaigns.moreErrors": "…and {count} more.",
    "campaigns.uploadStopped": "The upload stopped after {done} of {total} contacts: {message}",
    "campaigns.readFailed": "The file could not be read: {message}",
    "campaigns.diagnostics": "Is it dialling?",
    "campaigns.notWithin14": "not within the next 14 days",
    "campaigns.forecast": "Staffing forecast",
  },
  ar: {
    "campaigns.title": "الحملات",
    "campaigns.list": "كل الحملات",
    "campaigns.new": "حملة جديدة",
    "campaigns.empty": "لا توجد حملات بعد. أنشئ أول حملة من زر «حملة جديدة».",
    "campaigns.name": "الاسم",
    "campaigns.status": "الحالة",
    "campaigns.mode": "نمط الطلب",
    "campaigns.contacts": "جهات الاتصال",
    "campaigns.contacted": "تم الاتصال بهم",
    "campaigns.connected": "تم الوصول إليهم",
    "campaigns.abandon": "نسبة المتروكة / الحد المستهدف",
    "campaigns.overTarget": "فوق الحد",
    "campaigns.open": "فتح {name}",
    "campaigns.mode.preview": "معاينة",
    "campaigns.mode.progressive": "تدريجي",
    "campaigns.mode.power": "مكثّف",
    "campaigns.mode.predictive": "تنبؤي",
    "campaigns.modeHint.preview": "يطّلع الموظف على جهة الاتصال أولاً ثم يطلبها بنفسه.",
    "campaigns.modeHint.progressive": "مكالمة واحدة لكل موظف متاح، تُطلب تلقائياً.",
    "campaigns.modeHint.power": "عدد ثابت من الخطوط لكل موظف متاح (نسبة الطلب).",
    "campaigns.modeHint.predictive": "يطلب مسبقاً للموظفين الذين يوشكون على إنهاء مكالماتهم، ضمن الحد المستهدف لنسبة المتروكة.",
    "campaigns.cliGroup": "مجموعة أرقام المتصل",
    "campaigns.cliGroupId": "معرّف مجموعة أرقام المتصل",
    "campaigns.cliGroupIdHint": "لا تملك صلاحية عرض مجموعات أرقام المتصل؛ اطلب معرّف المجموعة من مدير النظام.",
    "campaigns.cliNumbers": "{name} (عدد الأرقام: {count})",
    "campaigns.pacing": "وتيرة الطلب والحدود",
    "campaigns.maxAttempts": "عدد المحاولات لكل جهة اتصال",
    "campaigns.retryDelay": "الدقائق بين المحاولات",
    "campaigns.dialRatio": "نسبة الطلب (خطوط لكل موظف متاح)",
    "campaigns.timezone": "المنطقة الزمنية للحملة",
    "campaigns.timezoneHint": "منطقة زمنية وفق IANA، مثل Asia/Dubai أو Asia/Riyadh.",
    "campaigns.wrapUp": "مدة إنهاء المكالمة (بالثواني)",
    "campaigns.abandonTarget": "الحد المستهدف لنسبة المتروكة (%)",
    "campaigns.lockout": "الساعات قبل معاودة الاتصال بجهة اتصال متروكة",
    "campaigns.abandonMessage": "الرسالة التي تُسمع عند عدم توفر موظف",
    "campaigns.window": "نافذة الاتصال الخاصة بالحملة",
    "campaigns.windowHint": "اختياري. بالتوقيت المحلي لكل جهة اتصال؛ وتبقى أوقات الاتصال القانونية سارية دائماً.",
    "campaigns.windowStart": "من",
    "campaigns.windowEnd": "حتى",
    "campaigns.windowBoth": "حدّد بداية النافذة ونهايتها معاً، أو اتركهما فارغتين.",
    "campaigns.created": "تم إنشاء الحملة «{name}».",
    "campaigns.close": "إغلاق الحملة",
    "campaigns.settings": "الإعدادات",
    "campaigns.createdAt": "تاريخ الإنشاء",
    "campaigns.startedAt": "تاريخ البدء",
    "campaigns.pausedAt": "تاريخ الإيقاف المؤقت",
    "campaigns.completedAt": "تاريخ الاكتمال",
    "campaigns.noWindow": "أوقات الاتصال القانونية فقط",
    "campaigns.start": "بدء الطلب",
    "campaigns.pause": "إيقاف مؤقت",
    "campaigns.complete": "إنهاء الحملة",
    "campaigns.started": "بدأت الحملة.",
    "campaigns.paused": "أُوقفت الحملة مؤقتاً. تكتمل المكالمات الجارية بشكل طبيعي.",
    "campaigns.completed": "اكتملت الحملة.",
    "campaigns.completeTitle": "إنهاء هذه الحملة؟",
    "campaigns.completeBody": "ستتوقف «{name}» عن الطلب نهائياً؛ ولا يمكن بدء حملة مكتملة من جديد.",
    "campaigns.agents": "الموظفون",
    "campaigns.assigned": "الموظفون المعيّنون",
    "campaigns.noAgents": "لم يُعيَّن أي موظف بعد.",
    "campaigns.agentName": "الموظف",
    "campaigns.agentEmail": "البريد الإلكتروني",
    "campaigns.assignedAt": "تاريخ التعيين",
    "campaigns.assignPick": "الموظفون المراد تعيينهم",
    "campaigns.assignHint": "لاختيار أكثر من موظف استخدم Ctrl (أو ⌘ على Mac) أو Shift.",
    "campaigns.assign": "تعيين الموظفين المحددين",
    "campaigns.assignedCount": "عدد الموظفين المعيّنين الآن: {added} (وعدد من كانوا معيّنين من قبل: {already}).",
    "campaigns.assignNone": "اختر موظفاً واحداً على الأقل.",
    "campaigns.allAssigned": "كل الموظفين النشطين معيّنون على الحملة.",
    "campaigns.noDirectory": "تعذّرت قراءة قائمة الموظفين، لذا لا يمكن تعيينهم من هنا.",
    "campaigns.upload": "رفع جهات الاتصال",
    "campaigns.uploadHint": "ملف CSV يبدأ بصف للعناوين. تُحفظ الأعمدة الأخرى غير الهاتف والاسم كحقول مخصصة يراها الموظفون.",
    "campaigns.file": "ملف CSV",
    "campaigns.fileRead": "عدد الصفوف في الملف: {rows}.",
    "campaigns.fileEmpty": "لا توجد صفوف في الملف تحت صف العناوين.",
    "campaigns.phoneColumn": "عمود رقم الهاتف",
    "campaigns.firstColumn": "عمود الاسم الأول",
    "campaigns.lastColumn": "عمود اسم العائلة",
    "campaigns.noColumn": "(بلا)",
    "campaigns.customColumns": "تُحفظ كحقول مخصصة: {columns}.",
    "campaigns.noCustom": "لا توجد أعمدة أخرى.",
    "campaigns.uploadButton": "رفع جهات الاتصال",
    "campaigns.uploading": "جارٍ الرفع: {done} من أصل {total}…",
    "campaigns.uploadResult": "نتيجة الرفع",
    "campaigns.imported": "أُضيفت وجاهزة للطلب",
    "campaigns.duplicates": "مكررة تم تجاهلها",
    "campaigns.dncFiltered": "مدرجة في قائمة عدم الاتصال (محفوظة ولن تُطلب)",
    "campaigns.invalidPhones": "أرقام هواتف غير صالحة",
    "campaigns.skippedRows": "صفوف تم تجاوزها في الملف",
    "campaigns.totalInCampaign": "جهات الاتصال في الحملة الآن",
    "campaigns.rowErrors": "صفوف فيها مشكلات",
    "campaigns.line": "السطر",
    "campaigns.column": "العمود",
    "campaigns.problem": "المشكلة",
    "campaigns.noPhone": "لا يوجد رقم هاتف",
    "campaigns.moreErrors": "…و{count} غيرها.",
    "campaigns.uploadStopped": "توقف الرفع بعد إرسال {done} من أصل {total}: {message}",
    "campaigns.readFailed": "تعذّرت قراءة الملف: {message}",
    "campaigns.diagnostics": "هل تطلب الحملة الآن؟",
    "campaigns.notWithin14": "ليس خلال الأيام الأربعة عشر القادمة",
    "campaigns.forecast": "توقّع الاحتياج من الموظفين",
  },
});

const MODES = ["preview", "progressive", "power", "predictive"];
const UPLOAD_CHUNK = 5000;
const ZONES = ["Asia/Dubai", "Asia/Riyadh", "Asia/Qatar", "Asia/Bahrain", "Asia/Kuwait", "Asia/Muscat", "Africa/Cairo",
  "Asia/Amman", "Asia/Beirut", "Asia/Baghdad", "Africa/Casablanca", "Africa/Tunis", "Africa/Algiers", "Europe/London",
  "UTC"];

// -- CSV ---------------------------------------------------------------------------------------------------------

// RFC 4180 with the habits of real exports: a byte-order mark, CRLF or LF, quoted fields with "" and line breaks,
// and Excel's semicolon or a tab as the separator when the header row uses one. Each record keeps the line it
// starts on, so problems can be reported by line.
export function parseCsv(text) {
  const body = text.replace(/^\uFEFF/, "");
  const firstLine = body.split(/\r\n|\n|\r/, 1)[0] || "";
  const counts = [",", ";", "\t"].map((d) => [d, firstLine.split(d).length - 1]);
  const delimiter = counts.sort((a, b) => b[1] - a[1])[0][1] > 0 ? counts[0][0] : ",";
  const records = [];
  let row = [];
  let value = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  const endRow = () => {
    row.push(value);
    if (row.length > 1 || row[0].trim() !== "") records.push({ line: start, cells: row });
    row = [];
    value = "";
  };
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i];
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        value += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n" || (c === "\r" && body[i + 1] !== "\n")) line += 1;
        value += c;
      }
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      row.push(value);
      value = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && body[i + 1] === "\n") i += 1;
      endRow();
      line += 1;
      start = line;
    } else value += c;
  }
  if (value !== "" || row.length) endRow();
  const [head, ...rows] = records;
  return { headers: head ? head.cells.map((c) => c.trim()) : [], rows };
}

const GUESS = {
  phone: ["phone", "phonenumber", "mobile", "mobilenumber", "msisdn", "number", "tel", "telephone", "الهاتف",
    "رقمالهاتف", "الجوال", "رقمالجوال", "الموبايل", "رقم"],
  first_name: ["firstname", "first", "givenname", "forename", "name", "الاسمالأول", "الاسمالاول", "الاسم"],
  last_name: ["lastname", "last", "surname", "familyname", "اسمالعائلة", "العائلة", "الكنية"],
};

function norm(header) {
  return header.toLowerCase().replace(/[\s_\-.]/g, "");
}

function guessColumn(headers, kind) {
  const names = headers.map(norm);
  for (const candidate of GUESS[kind]) {
    const i = names.indexOf(candidate);
    if (i >= 0) return i;
  }
  return -1;
}

// -- the view ----------------------------------------------------------------------------------------------------

export function mount(main, ctx) {
  const role = ctx.session.user.role;
  let campaigns = [];
  let selected = null; // {id, ...parts}
  let cliGroups = null; // array, or null when this role may not list them
  let directory; // undefined: not loaded; null: unavailable; array of {id, full_name, email}
  let closed = false;
  const stops = [];

  const listEl = h("div", { "data-testid": "campaign-list" });
  const detailEl = h("div", { "data-testid": "campaign-detail-region" });
  const newButton = h("button", {
    type: "button", class: "primary", "data-testid": "campaign-new", "aria-expanded": "false",
    "aria-controls": "campaign-create", onclick: () => toggleCreate(),
  }, t("campaigns.new"));
  const createPanel = h("div", { id: "campaign-create", hidden: true });

  replace(main,
    pageHead(t("campaigns.title"),
      h("div", { class: "toolbar" }, newButton,
        h("button", { type: "button", class: "secondary", "data-testid": "campaigns-refresh",
          onclick: () => loadList() }, t("action.refresh")))),
    createPanel,
    section(t("campaigns.list"), listEl),
    detailEl);

  // -- list --------------------------------------------------------------------------------------------------

  async function loadList() {
    try {
      campaigns = await all("/v1/campaigns", { limit: 100 }, 1000);
      if (closed) return;
      renderList();
    } catch (error) {
      if (closed) return;
      showLoadError(listEl, error, () => loadList());
    }
  }

  function renderList() {
    const focusedId = listEl.contains(document.activeElement) ? document.activeElement.dataset.id : null;
    replace(listEl, table([
      { label: t("campaigns.name"), render: (c) => h("button", {
        type: "button", class: "link", "data-testid": "campaign-open", "data-id": c.id,
        "aria-label": t("campaigns.open", { name: c.name }), onclick: () => select(c.id, true),
      }, c.name) },
      { label: t("campaigns.status"), render: (c) => badge(t(`status.${c.status}`), statusKind(c.status)) },
      { label: t("campaigns.mode"), render: (c) => t(`campaigns.mode.${c.dialing_mode}`) },
      { label: t("campaigns.contacts"), class: "num", render: (c) => fmtNumber(c.total_contacts) },
      { label: t("campaigns.contacted"), class: "num", render: (c) => fmtNumber(c.contacted) },
      { label: t("campaigns.connected"), class: "num", render: (c) => fmtNumber(c.connected) },
      { label: t("campaigns.abandon"), class: "num", render: (c) => abandonCell(c) },
    ], campaigns, {
      empty: t("campaigns.empty"),
      rowAttrs: (c) => ({
        "data-testid": "campaign-row", "data-id": c.id, "data-campaign-id": c.id, "data-status": c.status,
        class: selected && selected.id === c.id ? "selected" : null,
        "aria-current": selected && selected.id === c.id ? "true" : null,
      }),
    }));
    if (focusedId) listEl.querySelector(`button[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  function abandonCell(c) {
    const over = c.abandon_rate > c.abandon_rate_target;
    return h("span", { class: "abandon" },
      h("span", { class: over ? "over" : null }, fmtPercent(c.abandon_rate)), " / ", fmtPercent(c.abandon_rate_target),
      over ? [" ", badge(t("campaigns.overTarget"), "bad")] : null);
  }

  // -- create ------------------------------------------------------------------------------------------------

  async function loadCliGroups() {
    try {
      cliGroups = (await all("/v1/cli-groups", { limit: 200 }, 1000)).sort((a, b) => a.name.localeCompare(b.name));
    } catch {
      cliGroups = null; // 403 for a role without cli_groups:read (or unreadable): fall back to typing the id
    }
  }

  function cliControl() {
    if (cliGroups && cliGroups.length) {
      return field(t("campaigns.cliGroup"), h("select", { name: "cli_group_id", required: true,
        "data-testid": "campaign-cli-group" },
      cliGroups.map((g) => option(g.id, t("campaigns.cliNumbers", { name: g.name, count: g.numbers.length })))));
    }
    return field(t("campaigns.cliGroupId"), h("input", { name: "cli_group_id", required: true, dir: "ltr",
      spellcheck: "false", autocomplete: "off", "data-testid": "campaign-cli-group" }), t("campaigns.cliGroupIdHint"));
  }

  function num(name, label, { min, max, step, value, hint } = {}) {
    return field(label, h("input", { name, type: "number", min, max, step, value, inputmode: "decimal" }), hint);
  }

  async function toggleCreate(show = createPanel.hidden) {
    newButton.setAttribute("aria-expanded", String(show));
    if (!show) {
      createPanel.hidden = true;
      return;
    }
    if (cliGroups === null) await loadCliGroups();
    renderCreate();
    createPanel.hidden = false;
    createPanel.querySelector("input[name=name]").focus();
  }

  function renderCreate() {
    const modeHint = h("p", { class: "hint", id: "campaign-mode-hint" }, t("campaigns.modeHint.progressive"));
    const modeSelect = h("select", { name: "dialing_mode", required: true, "data-testid": "campaign-mode",
      "aria-describedby": "campaign-mode-hint campaign-mode-error" },
    MODES.map((m) => option(m, t(`campaigns.mode.${m}`), m === "progressive")));
    const ratio = num("dial_ratio", t("campaigns.dialRatio"), { min: 1, max: 5, step: 0.1, value: 1.5 });
    const syncMode = () => {
      modeHint.textContent = t(`campaigns.modeHint.${modeSelect.value}`);
      const power = modeSelect.value === "power";
      ratio.hidden = !power;
      ratio.querySelector("input").disabled = !power;
    };
    modeSelect.addEventListener("change", syncMode);
    const zoneList = h("datalist", { id: "campaign-zones" }, ZONES.map((z) => h("option", { value: z })));
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "campaign-create" },
      t("action.create"));
    const form = h("form", { class: "stack", novalidate: true, "data-testid": "campaign-form" },
      formNotice(),
      h("div", { class: "cols-2" },
        h("div", {},
          field(t("campaigns.name"), h("input", { name: "name", required: true, maxlength: 200,
            "data-testid": "campaign-name" })),
          h("div", { class: "field", dataset: { field: "dialing_mode" } },
            h("label", { for: "campaign-mode" }, t("campaigns.mode")),
            Object.assign(modeSelect, { id: "campaign-mode" }), modeHint,
            h("p", { class: "field-error", id: "campaign-mode-error", role: "alert", hidden: true })),
          cliControl()),
        h("fieldset", { class: "plain" },
          h("legend", {}, t("campaigns.window")),
          h("p", { class: "hint" }, t("campaigns.windowHint")),
          h("div", { class: "cols-2" },
            field(t("campaigns.windowStart"), h("input", { name: "start", type: "time" })),
            field(t("campaigns.windowEnd"), h("input", { name: "end", type: "time" }))),
          field(t("campaigns.timezone"), h("input", { name: "timezone", value: "Asia/Dubai", list: "campaign-zones",
            dir: "ltr", spellcheck: "false" }), t("campaigns.timezoneHint")),
          zoneList)),
      h("details", { class: "more" },
        h("summary", {}, t("campaigns.pacing")),
        h("div", { class: "grid" },
          num("max_attempts", t("campaigns.maxAttempts"), { min: 1, max: 20, value: 3 }),
          num("retry_delay_minutes", t("campaigns.retryDelay"), { min: 1, max: 10080, value: 60 }),
          ratio,
          num("wrap_up_seconds", t("campaigns.wrapUp"), { min: 1, max: 3600, value: 15 }),
          num("abandon_rate_target", t("campaigns.abandonTarget"), { min: 0, max: 100, step: 0.1, value: 3 }),
          num("abandon_lockout_hours", t("campaigns.lockout"), { min: 0, max: 720, value: 72 })),
        field(t("campaigns.abandonMessage"), h("textarea", { name: "abandon_message", rows: 2 }),
          t("admin.optional"))),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => toggleCreate(false) }, t("action.cancel")),
        submit));
    syncMode();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearNotice(form);
      const v = formValues(form);
      const body = compact({
        name: v.name, dialing_mode: v.dialing_mode, cli_group_id: v.cli_group_id, max_attempts: v.max_attempts,
        retry_delay_minutes: v.retry_delay_minutes, dial_ratio: v.dial_ratio, timezone: v.timezone,
        wrap_up_seconds: v.wrap_up_seconds, abandon_rate_target: v.abandon_rate_target,
        abandon_lockout_hours: v.abandon_lockout_hours, abandon_message: v.abandon_message,
      });
      if (Boolean(v.start) !== Boolean(v.end)) {
        showProblem(form, { message: t("campaigns.windowBoth"), problem: {},
          fieldErrors: { [v.start ? "end" : "start"]: t("campaigns.windowBoth") } });
        return;
      }
      if (v.start) body.calling_window = { start: v.start, end: v.end };
      try {
        const created = await busy(submit, () => api("POST", "/v1/campaigns", { body }));
        toast(t("campaigns.created", { name: created.name }), "ok");
        toggleCreate(false);
        await loadList();
        select(created.id, true);
      } catch (error) {
        showProblem(form, error);
      }
    });
    replace(createPanel, section(t("campaigns.new"), form));
  }

  // -- detail ------------------------------------------------------------------------------------------------

  function deselect() {
    if (selected) selected.stop();
    selected = null;
    replace(detailEl);
    renderList();
  }

  async function select(id, focus) {
    if (selected) selected.stop();
    const part = {
      id, campaign: null, timers: [], stopped: false, assignedCount: 0,
      head: h("div", { "data-testid": "campaign-summary" }),
      agents: h("div", { "data-testid": "campaign-agents" }),
      upload: h("div", { "data-testid": "campaign-upload" }),
      diagnostics: h("div", { "data-testid": "campaign-diagnostics", "aria-live": "polite" }),
      forecast: h("div", { "data-testid": "campaign-forecast" }),
      stop() {
        this.stopped = true;
        this.timers.forEach(clearInterval);
      },
    };
    selected = part;
    const heading = h("h2", { tabindex: "-1", id: "campaign-detail-title" }, t("common.loading"));
    replace(detailEl, h("section", { class: "panel campaign-detail", "aria-labelledby": "campaign-detail-title",
      "data-testid": "campaign-detail", "data-id": id },
    h("div", { class: "detail-head" }, heading,
      h("button", { type: "button", class: "secondary", "data-testid": "campaign-close", onclick: deselect },
        t("campaigns.close"))),
    part.head,
    h("div", { class: "cols-2" },
      h("section", { class: "subpanel", "aria-labelledby": "campaign-agents-title" },
        h("h3", { id: "campaign-agents-title" }, t("campaigns.agents")), part.agents),
      h("section", { class: "subpanel", "aria-labelledby": "campaign-upload-title" },
        h("h3", { id: "campaign-upload-title" }, t("campaigns.upload")), part.upload)),
    h("section", { class: "subpanel", "aria-labelledby": "campaign-diag-title" },
      h("h3", { id: "campaign-diag-title" }, t("campaigns.diagnostics")), part.diagnostics),
    h("section", { class: "subpanel", "aria-labelledby": "campaign-forecast-title" },
      h("h3", { id: "campaign-forecast-title" }, t("campaigns.forecast")), part.forecast)));
    renderList();
    if (focus) heading.focus();
    try {
      part.campaign = await api("GET", `/v1/campaigns/${id}`);
    } catch (error) {
      replace(part.head, h("p", { class: "notice error", role: "alert" }, error.message));
      heading.textContent = t("campaigns.title");
      return;
    }
    if (part.stopped) return;
    renderHead(part, heading);
    renderUpload(part);
    await renderAgents(part);
    if (part.stopped) return;
    loadDiagnostics(part);
    renderForecast(part);
    part.timers.push(setInterval(() => loadDiagnostics(part), 15000));
  }

  async function refreshSelected() {
    const part = selected;
    if (!part) return;
    try {
      part.campaign = await api("GET", `/v1/campaigns/${part.id}`);
      if (part.stopped) return;
      renderHead(part, detailEl.querySelector("#campaign-detail-title"));
      loadDiagnostics(part);
    } catch {
      // The list still shows the campaign; the next refresh tries again.
    }
  }

  function renderHead(part, heading) {
    const c = part.campaign;
    replace(heading, c.name, " ", badge(t(`status.${c.status}`), statusKind(c.status)));
    const cli = cliGroups && cliGroups.find((g) => g.id === c.cli_group_id);
    const buttons = [];
    if (c.status === "draft" || c.status === "paused") {
      buttons.push(h("button", { type: "button", class: "primary", "data-testid": "campaign-start",
        onclick: (e) => transition(part, "start", e.currentTarget) }, t("campaigns.start")));
    }
    if (c.status === "active") {
      buttons.push(h("button", { type: "button", class: "secondary", "data-testid": "campaign-pause",
        onclick: (e) => transition(part, "pause", e.currentTarget) }, t("campaigns.pause")));
    }
    if (c.status === "active" || c.status === "paused") {
      buttons.push(h("button", { type: "button", class: "danger", "data-testid": "campaign-complete",
        onclick: (e) => transition(part, "complete", e.currentTarget) }, t("campaigns.complete")));
    }
    replace(part.head,
      buttons.length ? h("div", { class: "toolbar", "data-testid": "campaign-actions" }, buttons) : null,
      h("details", { class: "more" }, h("summary", {}, t("campaigns.settings")),
        facts([
          [t("campaigns.mode"), t(`campaigns.mode.${c.dialing_mode}`)],
          [t("campaigns.cliGroup"), cli ? t("campaigns.cliNumbers", { name: cli.name, count: cli.numbers.length })
            : h("code", {}, c.cli_group_id)],
          [t("campaigns.contacts"), fmtNumber(c.total_contacts)],
          [t("campaigns.maxAttempts"), fmtNumber(c.max_attempts)],
          [t("campaigns.retryDelay"), fmtNumber(c.retry_delay_minutes)],
          c.dialing_mode === "power" ? [t("campaigns.dialRatio"), fmtNumber(c.dial_ratio, 1)] : null,
          [t("campaigns.wrapUp"), fmtNumber(c.wrap_up_seconds)],
          [t("campaigns.abandonTarget"), fmtPercent(c.abandon_rate_target)],
          [t("campaigns.lockout"), fmtNumber(c.abandon_lockout_hours)],
          [t("campaigns.window"), c.calling_window ? h("span", { dir: "ltr" },
            `${c.calling_window.start}–${c.calling_window.end}`) : t("campaigns.noWindow")],
          [t("campaigns.timezone"), h("span", { dir: "ltr" }, c.timezone)],
          c.abandon_message ? [t("campaigns.abandonMessage"), c.abandon_message] : null,
          [t("campaigns.createdAt"), fmtDateTime(c.created_at)],
          c.started_at ? [t("campaigns.startedAt"), fmtDateTime(c.started_at)] : null,
          c.paused_at ? [t("campaigns.pausedAt"), fmtDateTime(c.paused_at)] : null,
          c.completed_at ? [t("campaigns.completedAt"), fmtDateTime(c.completed_at)] : null,
        ])));
  }

  async function transition(part, action, button) {
    const c = part.campaign;
    if (action === "complete") {
      const ok = await confirmDialog(t("campaigns.completeTitle"), t("campaigns.completeBody", { name: c.name }),
        { confirm: t("campaigns.complete"), danger: true, testid: "campaign-complete-confirm" });
      if (!ok) return;
    }
    try {
      await busy(button, () => api("POST", `/v1/campaigns/${c.id}/${action}`));
      toast(t({ start: "campaigns.started", pause: "campaigns.paused", complete: "campaigns.completed" }[action]), "ok");
    } catch (error) {
      toast(error.message, "error");
    }
    await refreshSelected();
    loadList();
    detailEl.querySelector("#campaign-detail-title")?.focus();
  }

  // -- agents --------------------------------------------------------------------------------------------------

  async function loadDirectory() {
    if (directory !== undefined) return directory;
    try {
      // Supervisors may not list users (users:read), but they read the floor's agents (agents:read).
      if (role !== "admin") throw Object.assign(new Error("users:read"), { status: 403 });
      directory = (await all("/v1/users", { role: "agent", is_active: true, limit: 200 }, 2000))
        .map((u) => ({ id: u.id, full_name: u.full_name, email: u.email }));
    } catch (error) {
      if (error.status !== 403) {
        directory = null;
        return directory;
      }
      try {
        const board = await api("GET", "/v1/agents/state");
        directory = board.agents.map((a) => ({ id: a.id, full_name: a.full_name, email: null }));
      } catch {
        directory = null;
      }
    }
    if (directory) directory.sort((a, b) => a.full_name.localeCompare(b.full_name));
    return directory;
  }

  async function renderAgents(part) {
    let assigned;
    try {
      [assigned] = await Promise.all([all(`/v1/campaigns/${part.id}/agents`, { limit: 200 }, 2000), loadDirectory()]);
    } catch (error) {
      replace(part.agents, h("p", { class: "notice error", role: "alert" }, error.message));
      return;
    }
    if (part.stopped) return;
    part.assignedCount = assigned.length;
    const assignedIds = new Set(assigned.map((a) => a.id));
    const candidates = (directory || []).filter((a) => !assignedIds.has(a.id));
    let form = null;
    if (directory === null) form = h("p", { class: "notice warn" }, t("campaigns.noDirectory"));
    else if (!candidates.length) form = h("p", { class: "muted" }, t("campaigns.allAssigned"));
    else {
      const pick = h("select", { name: "agent_ids", multiple: true, size: Math.min(8, Math.max(3, candidates.length)),
        "data-testid": "campaign-agents-select" },
      candidates.map((a) => option(a.id, a.email ? `${a.full_name} — ${a.email}` : a.full_name)));
      const submit = h("button", { type: "submit", class: "primary", "data-testid": "campaign-assign" },
        t("campaigns.assign"));
      form = h("form", { class: "stack", novalidate: true }, formNotice(),
        field(t("campaigns.assignPick"), pick, t("campaigns.assignHint")), h("div", { class: "actions" }, submit));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearNotice(form);
        const ids = [...pick.selectedOptions].map((o) => o.value);
        if (!ids.length) {
          showProblem(form, { message: t("campaigns.assignNone"), problem: {}, fieldErrors: {} });
          return;
        }
        try {
          const result = await busy(submit, () => api("POST", `/v1/campaigns/${part.id}/agents`,
            { body: { agent_ids: ids } }));
          toast(t("campaigns.assignedCount", { added: result.added, already: result.already_assigned }), "ok");
          await renderAgents(part);
          loadDiagnostics(part);
        } catch (error) {
          showProblem(form, error);
        }
      });
    }
    replace(part.agents,
      table([
        { label: t("campaigns.agentName"), render: (a) => a.full_name },
        { label: t("campaigns.agentEmail"), render: (a) => h("span", { dir: "ltr" }, a.email) },
        { label: t("campaigns.assignedAt"), render: (a) => fmtDateTime(a.assigned_at) },
      ], assigned, { empty: t("campaigns.noAgents"), caption: t("campaigns.assigned"),
        rowAttrs: () => ({ "data-testid": "campaign-agent-row" }) }),
      form);
  }

  // -- contacts upload -----------------------------------------------------------------------------------------

  function renderUpload(part) {
    let parsed = null;
    const mapping = h("div", { class: "stack", "data-testid": "contacts-mapping" });
    const progress = h("p", { class: "muted", role: "status" });
    const result = h("div", { "data-testid": "upload-result-region", "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary", disabled: true, "data-testid": "contacts-upload" },
      t("campaigns.uploadButton"));
    const file = h("input", { name: "file", type: "file", accept: ".csv,text/csv", "data-testid": "contacts-file" });
    const form = h("form", { class: "stack", novalidate: true }, h("p", { class: "hint" }, t("campaigns.uploadHint")),
      formNotice(), field(t("campaigns.file"), file), mapping, h("div", { class: "actions" }, submit), progress);

    const columnSelect = (name, label, guess, required) => field(label, h("select", { name, required,
      "data-testid": `contacts-${name}` },
    required ? null : option("-1", t("campaigns.noColumn"), guess < 0),
    parsed.headers.map((head, i) => option(String(i), head || `#${i + 1}`, i === guess))));

    const describeCustom = () => {
      const used = ["phone", "first_name", "last_name"].map((n) => Number(form.elements[n].value));
      const rest = parsed.headers.filter((head, i) => head && !used.includes(i));
      mapping.querySelector(".custom-columns").textContent = rest.length
        ? t("campaigns.customColumns", { columns: rest.join(lang() === "ar" ? "، " : ", ") })
        : t("campaigns.noCustom");
    };

    file.addEventListener("change", async () => {
      clearNotice(form);
      replace(result);
      replace(mapping);
      submit.disabled = true;
      parsed = null;
      const chosen = file.files[0];
      if (!chosen) return;
      try {
        parsed = parseCsv(await chosen.text());
      } catch (error) {
        showProblem(form, { message: t("campaigns.readFailed", { message: error.message }), problem: {}, fieldErrors: {} });
        return;
      }
      if (!parsed.rows.length) {
        showProblem(form, { message: t("campaigns.fileEmpty"), problem: {}, fieldErrors: {} });
        return;
      }
      let phoneGuess = guessColumn(parsed.headers, "phone");
      if (phoneGuess < 0) phoneGuess = 0;
      replace(mapping,
        h("p", { "data-testid": "contacts-rows" }, t("campaigns.fileRead", { rows: fmtNumber(parsed.rows.length) })),
        h("div", { class: "grid" },
          columnSelect("phone", t("campaigns.phoneColumn"), phoneGuess, true),
          columnSelect("first_name", t("campaigns.firstColumn"), guessColumn(parsed.headers, "first_name"), false),
          columnSelect("last_name", t("campaigns.lastColumn"), guessColumn(parsed.headers, "last_name"), false)),
        h("p", { class: "muted custom-columns" }));
      for (const name of ["phone", "first_name", "last_name"]) form.elements[name].addEventListener("change", describeCustom);
      describeCustom();
      submit.disabled = false;
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!parsed) return;
      clearNotice(form);
      const col = Object.fromEntries(["phone", "first_name", "last_name"].map((n) => [n, Number(form.elements[n].value)]));
      const rowErrors = [];
      const contacts = [];
      const lines = [];
      for (const record of parsed.rows) {
        const cell = (i) => (i >= 0 && i < record.cells.length ? record.cells[i].trim() : "");
        const phone = cell(col.phone);
        if (!phone) {
          rowErrors.push({ line: record.line, column: parsed.headers[col.phone], message: t("campaigns.noPhone") });
          continue;
        }
        const contact = { phone };
        if (cell(col.first_name)) contact.first_name = cell(col.first_name);
        if (cell(col.last_name)) contact.last_name = cell(col.last_name);
        const custom = {};
        parsed.headers.forEach((head, i) => {
          if (head && i !== col.phone && i !== col.first_name && i !== col.last_name && cell(i)) custom[head] = cell(i);
        });
        if (Object.keys(custom).length) contact.custom_fields = custom;
        contacts.push(contact);
        lines.push(record.line);
      }
      const totals = { imported: 0, duplicates_skipped: 0, dnc_filtered: 0, invalid_phones: 0, total_in_campaign: null };
      let stopped = null;
      let done = 0;
      submit.disabled = true;
      file.disabled = true;
      try {
        for (let start = 0; start < contacts.length; start += UPLOAD_CHUNK) {
          progress.textContent = t("campaigns.uploading", { done: fmtNumber(done), total: fmtNumber(contacts.length) });
          const chunk = contacts.slice(start, start + UPLOAD_CHUNK);
          try {
            const answer = await api("POST", `/v1/campaigns/${part.id}/contacts`, { body: { contacts: chunk } });
            for (const key of ["imported", "duplicates_skipped", "dnc_filtered", "invalid_phones"]) totals[key] += answer[key];
            totals.total_in_campaign = answer.total_in_campaign;
            done += chunk.length;
          } catch (error) {
            // A validation failure names `contacts.<row>.<field>`: report it against the file's line.
            for (const e of error.problem?.errors || []) {
              const m = /^contacts\.(\d+)\.?(.*)$/.exec(e.field || "");
              if (m) rowErrors.push({ line: lines[start + Number(m[1])], column: m[2], message: e.message });
            }
            stopped = t("campaigns.uploadStopped", { done: fmtNumber(done), total: fmtNumber(contacts.length),
              message: error.message });
            break;
          }
        }
      } finally {
        submit.disabled = false;
        file.disabled = false;
        progress.textContent = "";
      }
      if (stopped) showProblem(form, { message: stopped, problem: {}, fieldErrors: {} });
      renderUploadResult(result, totals, rowErrors, done > 0);
      if (done > 0) {
        refreshSelected();
        loadList();
      }
    });
    replace(part.upload, form, result);
  }

  function renderUploadResult(el, totals, rowErrors, anyDone) {
    rowErrors.sort((a, b) => a.line - b.line);
    const shown = rowErrors.slice(0, 100);
    replace(el,
      anyDone || rowErrors.length ? h("h4", {}, t("campaigns.uploadResult")) : null,
      anyDone ? facts([
        [t("campaigns.imported"), fmtNumber(totals.imported)],
        [t("campaigns.duplicates"), fmtNumber(totals.duplicates_skipped)],
        [t("campaigns.dncFiltered"), fmtNumber(totals.dnc_filtered)],
        [t("campaigns.invalidPhones"), fmtNumber(totals.invalid_phones)],
        rowErrors.length ? [t("campaigns.skippedRows"), fmtNumber(rowErrors.length)] : null,
        [t("campaigns.totalInCampaign"), fmtNumber(totals.total_in_campaign)],
      ], { "data-testid": "upload-result" }) : null,
      shown.length ? h("div", { "data-testid": "upload-errors" },
        table([
          { label: t("campaigns.line"), class: "num", render: (e) => fmtNumber(e.line) },
          { label: t("campaigns.column"), render: (e) => e.column || "—" },
          { label: t("campaigns.problem"), render: (e) => e.message },
        ], shown, { caption: t("campaigns.rowErrors") }),
        rowErrors.length > shown.length ? h("p", { class: "muted" },
          t("campaigns.moreErrors", { count: fmtNumber(rowErrors.length - shown.length) })) : null) : null);
  }

  // -- live --------------------------------------------------------------------------------------------------

  const refreshSoon = debounce(() => {
    loadList();
    refreshSelected();
  }, 400);
  stops.push(subscribe((event) => {
    if (event && typeof event.event_type === "string" && event.event_type.startsWith("campaign.")) refreshSoon();
  }));
  const slow = setInterval(() => loadList(), 30000);

  // `#/admin/campaigns?id=<id>` opens that campaign (if the router passes such a link through).
  const linked = new URLSearchParams(window.location.hash.split("?")[1] || "").get("id");
  loadList().then(() => {
    if (linked && !closed) select(linked, true);
  });
  loadCliGroups();

  return () => {
    closed = true;
    refreshSoon.cancel();
    clearInterval(slow);
    if (selected) selected.stop();
    stops.forEach((stop) => stop());
  };
}
