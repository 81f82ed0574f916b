// Integrations (admins; the seed's "Admin → Settings → Integrations"): the webhook subscriptions that send the
// organisation's events to outside systems. Create one (URL, the events it wants from the catalogue, a
// description); its signing secret is shown once, right after creation or rotation, with a copy button. Send a
// signed test ping, pause or resume, delete, and read each subscription's delivery log (status, attempts, the
// receiver's last answer, times) with a Redeliver button per delivery.

import { api } from "../../api.js";
import { badge, field, formValues, h, replace, section, showProblem, table, toast } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, t } from "../../i18n.js";
import { busy, clearNotice, compact, confirmDialog, copyField, formNotice, option, pageHead, showLoadError } from "./shared.js";

// The catalogue (WebhookEventType): the seed's "Event Catalog" and `dnc.removed`.
export const EVENTS = [
  "call.initiated", "call.answered", "call.completed", "call.abandoned", "call.compliance_blocked",
  "agent.state_changed", "campaign.started", "campaign.paused", "campaign.completed", "dnc.added", "dnc.removed",
];

extend({
  en: {
    "webhooks.title": "Integrations",
    "webhooks.intro": "Webhooks send your organisation’s events to your own systems as signed HTTPS requests (header X-BroadNet-Signature). Failed deliveries are retried for about two and a half hours.",
    "webhooks.list": "Webhook subscriptions",
    "webhooks.url": "Endpoint URL",
    "webhooks.urlHint": "An https address your system answers with 2xx within 10 seconds.",
    "webhooks.events": "Events",
    "webhooks.eventsCount": "{count} events",
    "webhooks.description": "Description",
    "webhooks.status": "Status",
    "webhooks.active": "Active",
    "webhooks.paused": "Paused",
    "webhooks.created": "Created",
    "webhooks.actions": "Actions",
    "webhooks.empty": "No webhooks yet.",
    "webhooks.new": "New webhook",
    "webhooks.chooseEvents": "Events to send",
    "webhooks.allEvents": "Select all",
    "webhooks.noEvents": "Choose at least one event.",
    "webhooks.ownSecret": "Your own signing secret",
    "webhooks.ownSecretHint": "Optional: 32 to 128 visible characters. Leave empty and Engage makes one.",
    "webhooks.create": "Create webhook",
    "webhooks.createdToast": "Webhook created. Copy its secret now.",
    "webhooks.secretTitle": "Signing secret",
    "webhooks.secretFor": "Secret for {url}",
    "webhooks.secretWarning": "Copy this secret now and keep it safe: it will not be shown again.",
    "webhooks.previousUntil": "Requests are also signed with the previous secret until {time}, so you can switch over without missing events.",
    "webhooks.secretDone": "I have copied it",
    "webhooks.deliveries": "Deliveries",
    "webhooks.deliveriesFor": "Deliveries to {url}",
    "webhooks.test": "Send test",
    "webhooks.testOk": "Test delivered: the endpoint answered HTTP {code} in {ms} ms.",
    "webhooks.testFailed": "Test not delivered: {error} ({ms} ms).",
    "webhooks.noAnswer": "no answer",
    "webhooks.rotate": "Rotate secret",
    "webhooks.rotateTitle": "Rotate the signing secret?",
    "webhooks.rotateBody": "A new secret is made for {url}. The old one keeps signing requests for a short while so your system can switch over.",
    "webhooks.rotated": "Secret rotated. Copy the new one now.",
    "webhooks.pause": "Pause",
    "webhooks.resume": "Resume",
    "webhooks.pausedToast": "Webhook paused: no events are sent until you resume it.",
    "webhooks.resumedToast": "Webhook resumed.",
    "webhooks.delete": "Delete",
    "webhooks.deleteTitle": "Delete this webhook?",
    "webhooks.deleteBody": "{url} stops receiving events and its delivery log is deleted.",
    "webhooks.deleted": "Webhook deleted.",
    "webhooks.filterStatus": "Delivery status",
    "webhooks.event": "Event",
    "webhooks.occurred": "Occurred",
    "webhooks.attempts": "Attempts",
    "webhooks.response": "Response",
    "webhooks.latency": "{ms} ms",
    "webhooks.lastAttempt": "Last attempt",
    "webhooks.nextAttempt": "Next attempt",
    "webhooks.delivered": "Delivered",
    "webhooks.redeliver": "Redeliver",
    "webhooks.redelivered": "Delivery queued again.",
    "webhooks.queued": "Queued",
    "webhooks.noDeliveries": "No deliveries yet. They appear as events happen.",
    "webhooks.delivery.pending": "Pending",
    "webhooks.delivery.succeeded": "Succeeded",
    "webhooks.delivery.failed": "Failed",
    "webhooks.pickOne": "Choose “Deliveries” on a webhook to see its delivery log.",
    "webhooks.event.call.initiated": "Call started dialling",
    "webhooks.event.call.answered": "Call answered",
    "webhooks.event.call.completed": "Call completed",
    "webhooks.event.call.abandoned": "Call abandoned",
    "webhooks.event.call.compliance_blocked": "Call blocked by compliance",
    "webhooks.event.agent.state_changed": "Agent status changed",
    "webhooks.event.campaign.started": "Campaign started",
    "webhooks.event.campaign.paused": "Campaign paused",
    "webhooks.event.campaign.completed": "Campaign completed",
    "webhooks.event.dnc.added": "Number added to the do-not-call list",
    "webhooks.event.dnc.removed": "Number removed from the do-not-call list",
  },
  ar: {
    "webhooks.title": "التكاملات",
    "webhooks.intro": "ترسل خطافات الويب (Webhooks) أحداث مؤسستكم إلى أنظمتكم الخاصة كطلبات HTTPS موقّعة (الترويسة X-BroadNet-Signature). ويُعاد إرسال ما يفشل منها لمدة ساعتين ونصف تقريباً.",
    "webhooks.list": "اشتراكات خطافات الويب",
    "webhooks.url": "عنوان نقطة الاستقبال",
    "webhooks.urlHint": "عنوان https يرد عليه نظامكم برمز 2xx خلال 10 ثوانٍ.",
    "webhooks.events": "الأحداث",
    "webhooks.eventsCount": "عدد الأحداث: {count}",
    "webhooks.description": "الوصف",
    "webhooks.status": "الحالة",
    "webhooks.active": "نشط",
    "webhooks.paused": "موقوف مؤقتاً",
    "webhooks.created": "تاريخ الإنشاء",
    "webhooks.actions": "الإجراءات",
    "webhooks.empty": "لا توجد خطافات ويب بعد.",
    "webhooks.new": "خطاف ويب جديد",
    "webhooks.chooseEvents": "الأحداث المراد إرسالها",
    "webhooks.allEvents": "تحديد الكل",
    "webhooks.noEvents": "اختر حدثاً واحداً على الأقل.",
    "webhooks.ownSecret": "مفتاح التوقيع الخاص بكم",
    "webhooks.ownSecretHint": "اختياري: من 32 إلى 128 حرفاً مرئياً. اتركه فارغاً وسيُنشئ إنغيج مفتاحاً.",
    "webhooks.create": "إنشاء خطاف الويب",
    "webhooks.createdToast": "تم إنشاء خطاف الويب. انسخ مفتاحه الآن.",
    "webhooks.secretTitle": "مفتاح التوقيع",
    "webhooks.secretFor": "المفتاح الخاص بـ {url}",
    "webhooks.secretWarning": "انسخ هذا المفتاح الآن واحفظه في مكان آمن: لن يُعرض مرة أخرى.",
    "webhooks.previousUntil": "تُوقَّع الطلبات أيضاً بالمفتاح السابق حتى {time}، لتتمكنوا من الانتقال دون أن يفوتكم أي حدث.",
    "webhooks.secretDone": "لقد نسخته",
    "webhooks.deliveries": "عمليات الإرسال",
    "webhooks.deliveriesFor": "عمليات الإرسال إلى {url}",
    "webhooks.test": "إرسال تجريبي",
    "webhooks.testOk": "وصل الإرسال التجريبي: ردّت نقطة الاستقبال بالرمز HTTP {code} خلال {ms} ملّي ثانية.",
    "webhooks.testFailed": "لم يصل الإرسال التجريبي: {error} ({ms} ملّي ثانية).",
    "webhooks.noAnswer": "لا يوجد رد",
    "webhooks.rotate": "تغيير المفتاح",
    "webhooks.rotateTitle": "تغيير مفتاح التوقيع؟",
    "webhooks.rotateBody": "سيُنشأ مفتاح جديد لـ {url}. ويستمر المفتاح القديم في توقيع الطلبات لفترة قصيرة ليتمكن نظامكم من الانتقال.",
    "webhooks.rotated": "تم تغيير المفتاح. انسخ المفتاح الجديد الآن.",
    "webhooks.pause": "إيقاف مؤقت",
    "webhooks.resume": "استئناف",
    "webhooks.pausedToast": "أُوقف خطاف الويب مؤقتاً: لن تُرسل أي أحداث حتى تستأنفه.",
    "webhooks.resumedToast": "تم استئناف خطاف الويب.",
    "webhooks.delete": "حذف",
    "webhooks.deleteTitle": "حذف خطاف الويب هذا؟",
    "webhooks.deleteBody": "سيتوقف {url} عن تلقي الأحداث، وسيُحذف سجل عمليات الإرسال الخاص به.",
    "webhooks.deleted": "تم حذف خطاف الويب.",
    "webhooks.filterStatus": "حالة الإرسال",
    "webhooks.event": "الحدث",
    "webhooks.occurred": "وقت الحدث",
    "webhooks.attempts": "المحاولات",
    "webhooks.response": "الرد",
    "webhooks.latency": "{ms} ملّي ثانية",
    "webhooks.lastAttempt": "آخر محاولة",
    "webhooks.nextAttempt": "المحاولة التالية",
    "webhooks.delivered": "وقت الوصول",
    "webhooks.redeliver": "إعادة الإرسال",
    "webhooks.redelivered": "أُعيدت عملية الإرسال إلى قائمة الانتظار.",
    "webhooks.queued": "في قائمة الانتظار",
    "webhooks.noDeliveries": "لا توجد عمليات إرسال بعد. ستظهر عند وقوع الأحداث.",
    "webhooks.delivery.pending": "قيد الانتظار",
    "webhooks.delivery.succeeded": "ناجحة",
    "webhooks.delivery.failed": "فاشلة",
    "webhooks.pickOne": "اختر «عمليات الإرسال» لأحد خطافات الويب لعرض سجله.",
    "webhooks.event.call.initiated": "بدء طلب مكالمة",
    "webhooks.event.call.answered": "الرد على مكالمة",
    "webhooks.event.call.completed": "اكتمال مكالمة",
    "webhooks.event.call.abandoned": "مكالمة متروكة",
    "webhooks.event.call.compliance_blocked": "مكالمة حظرها فحص الامتثال",
    "webhooks.event.agent.state_changed": "تغيّر حالة موظف",
    "webhooks.event.campaign.started": "بدء حملة",
    "webhooks.event.campaign.paused": "إيقاف حملة مؤقتاً",
    "webhooks.event.campaign.completed": "اكتمال حملة",
    "webhooks.event.dnc.added": "إضافة رقم إلى قائمة عدم الاتصال",
    "webhooks.event.dnc.removed": "حذف رقم من قائمة عدم الاتصال",
  },
});

const DELIVERY_KIND = { pending: "info", succeeded: "ok", failed: "bad" };

function eventLabel(type) {
  const key = `webhooks.event.${type}`;
  const text = t(key);
  return text === key ? type : text;
}

export function mount(main) {
  let hooks = [];
  let closed = false;
  let current = null; // the webhook whose deliveries are shown
  let deliveries = [];
  let deliveriesCursor = null;
  const listEl = h("div", { "data-testid": "webhook-list" });
  const secretEl = h("div", { "aria-live": "polite" });
  const deliveriesEl = h("div", { "data-testid": "webhook-deliveries" });

  replace(main,
    pageHead(t("webhooks.title")),
    h("p", { class: "muted" }, t("webhooks.intro")),
    secretEl,
    section(t("webhooks.list"),
      h("div", { class: "toolbar" }, h("button", { type: "button", class: "secondary", onclick: () => load() },
        t("action.refresh"))),
      listEl),
    h("section", { class: "panel", "aria-labelledby": "deliveries-title" },
      h("h2", { id: "deliveries-title", tabindex: "-1" }, t("webhooks.deliveries")), deliveriesEl),
    section(t("webhooks.new"), createForm()));
  replace(deliveriesEl, h("p", { class: "muted" }, t("webhooks.pickOne")));

  async function load() {
    try {
      const page = await api("GET", "/v1/webhooks", { query: { limit: 200 } });
      hooks = page.items;
    } catch (error) {
      if (closed) return;
      showLoadError(listEl, error, () => load());
      return;
    }
    if (closed) return;
    renderList();
  }

  function renderList() {
    const focused = listEl.contains(document.activeElement) ? document.activeElement.dataset : null;
    replace(listEl, table([
      { label: t("webhooks.url"), render: (w) => h("span", { class: "url", dir: "ltr" }, w.url) },
      { label: t("webhooks.events"), render: (w) => h("details", {},
        h("summary", {}, t("webhooks.eventsCount", { count: fmtNumber(w.events.length) })),
        h("ul", { class: "plain-list" }, w.events.map((e) => h("li", {}, eventLabel(e), " ",
          h("code", { dir: "ltr" }, e))))) },
      { label: t("webhooks.description"), render: (w) => w.description || "—" },
      { label: t("webhooks.status"), render: (w) => (w.is_active ? badge(t("webhooks.active"), "ok")
        : badge(t("webhooks.paused"), "warn")) },
      { label: t("webhooks.created"), render: (w) => fmtDateTime(w.created_at) },
      { label: t("webhooks.actions"), render: (w) => h("div", { class: "row-actions" },
        button(w, "webhook-deliveries", t("webhooks.deliveries"), "primary", () => showDeliveries(w)),
        button(w, "webhook-test", t("webhooks.test"), "secondary", (b) => sendTest(w, b)),
        button(w, "webhook-rotate", t("webhooks.rotate"), "secondary", (b) => rotate(w, b)),
        button(w, "webhook-toggle", w.is_active ? t("webhooks.pause") : t("webhooks.resume"), "secondary",
          (b) => toggle(w, b)),
        button(w, "webhook-delete", t("webhooks.delete"), "danger", (b) => remove(w, b))) },
    ], hooks, { empty: t("webhooks.empty"),
      rowAttrs: (w) => ({ "data-testid": "webhook-row", "data-id": w.id, "data-url": w.url,
        "aria-current": current && current.id === w.id ? "true" : null }) }));
    if (focused && focused.id) {
      listEl.querySelector(`[data-testid="${focused.testid}"][data-id="${CSS.escape(focused.id)}"]`)?.focus();
    }
  }

  function button(w, testid, text, kind, onClick) {
    return h("button", { type: "button", class: kind, "data-testid": testid, "data-id": w.id,
      "aria-label": `${text}: ${w.url}`, onclick: (e) => onClick(e.currentTarget) }, text);
  }

  // -- the one-time secret ----------------------------------------------------------------------------------------

  function showSecret(url, secret, previousUntil) {
    const done = h("button", { type: "button", class: "primary", "data-testid": "webhook-secret-done",
      onclick: () => replace(secretEl) }, t("webhooks.secretDone"));
    const panel = h("section", { class: "panel secret-panel", "aria-labelledby": "secret-title",
      "data-testid": "webhook-secret-panel" },
    h("h2", { id: "secret-title", tabindex: "-1" }, t("webhooks.secretTitle")),
    h("p", { class: "notice warn", role: "alert" }, t("webhooks.secretWarning")),
    copyField(t("webhooks.secretFor", { url }), secret, { testid: "webhook-secret", copyTestid: "webhook-secret-copy" }),
    previousUntil ? h("p", { class: "muted" }, t("webhooks.previousUntil", { time: fmtDateTime(previousUntil) })) : null,
    h("div", { class: "actions" }, done));
    replace(secretEl, panel);
    panel.scrollIntoView({ block: "start" });
    panel.querySelector("h2").focus();
  }

  // -- create ------------------------------------------------------------------------------------------------------

  function createForm() {
    const boxes = EVENTS.map((type) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "events", value: type, "data-testid": "webhook-event",
        "data-event": type }),
      h("span", {}, eventLabel(type), " ", h("code", { dir: "ltr" }, type))));
    const selectAll = h("button", { type: "button", class: "link", onclick: () => {
      for (const box of form.querySelectorAll("input[name=events]")) box.checked = true;
    } }, t("webhooks.allEvents"));
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "webhook-create" },
      t("webhooks.create"));
    const form = h("form", { class: "stack admin-form", novalidate: true, "data-testid": "webhook-form" },
      formNotice(),
      field(t("webhooks.url"), h("input", { name: "url", type: "url", required: true, dir: "ltr",
        placeholder: "https://", autocomplete: "off", spellcheck: "false", "data-testid": "webhook-url" }),
      t("webhooks.urlHint")),
      h("fieldset", { class: "field plain events-fieldset", dataset: { field: "events" } },
        h("legend", {}, t("webhooks.chooseEvents")), selectAll, h("div", { class: "check-grid" }, boxes),
        h("p", { class: "field-error", role: "alert", hidden: true })),
      field(t("webhooks.description"), h("input", { name: "description", maxlength: 500,
        "data-testid": "webhook-description" }), t("admin.optional")),
      h("details", { class: "more" }, h("summary", {}, t("webhooks.ownSecret")),
        field(t("webhooks.ownSecret"), h("input", { name: "secret", type: "password", autocomplete: "off",
          minlength: 32, maxlength: 128, dir: "ltr" }), t("webhooks.ownSecretHint"))),
      h("div", { class: "actions" }, submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearNotice(form);
      const v = formValues(form);
      const events = [...form.querySelectorAll("input[name=events]:checked")].map((b) => b.value);
      if (!events.length) {
        showProblem(form, { message: t("webhooks.noEvents"), problem: {},
          fieldErrors: { events: t("webhooks.noEvents") } });
        return;
      }
      const body = compact({ url: v.url, events, description: v.description, secret: v.secret });
      try {
        const created = await busy(submit, () => api("POST", "/v1/webhooks", { body }));
        toast(t("webhooks.createdToast"), "ok");
        form.reset();
        const { secret, ...hook } = created;
        hooks = [hook, ...hooks];
        renderList();
        showSecret(created.url, secret, null);
      } catch (error) {
        showProblem(form, error);
      }
    });
    return form;
  }

  // -- actions -----------------------------------------------------------------------------------------------------

  async function sendTest(w, b) {
    try {
      const result = await busy(b, () => api("POST", `/v1/webhooks/${w.id}/test`));
      if (result.delivered) {
        toast(t("webhooks.testOk", { code: result.status_code, ms: fmtNumber(result.latency_ms) }), "ok");
      } else {
        const error = result.error || (result.status_code ? `HTTP ${result.status_code}` : t("webhooks.noAnswer"));
        toast(t("webhooks.testFailed", { error, ms: fmtNumber(result.latency_ms) }), "error");
      }
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function rotate(w, b) {
    const ok = await confirmDialog(t("webhooks.rotateTitle"), t("webhooks.rotateBody", { url: w.url }),
      { confirm: t("webhooks.rotate"), testid: "webhook-rotate-confirm" });
    if (!ok) return;
    try {
      const rotated = await busy(b, () => api("POST", `/v1/webhooks/${w.id}/rotate-secret`));
      toast(t("webhooks.rotated"), "ok");
      showSecret(w.url, rotated.secret, rotated.previous_secret_expires_at);
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function toggle(w, b) {
    try {
      const updated = await busy(b, () => api("PATCH", `/v1/webhooks/${w.id}`, { body: { is_active: !w.is_active } }));
      hooks = hooks.map((x) => (x.id === updated.id ? updated : x));
      toast(t(updated.is_active ? "webhooks.resumedToast" : "webhooks.pausedToast"), "ok");
      renderList();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function remove(w, b) {
    const ok = await confirmDialog(t("webhooks.deleteTitle"), t("webhooks.deleteBody", { url: w.url }),
      { confirm: t("webhooks.delete"), danger: true, testid: "webhook-delete-confirm" });
    if (!ok) return;
    try {
      await busy(b, () => api("DELETE", `/v1/webhooks/${w.id}`));
      hooks = hooks.filter((x) => x.id !== w.id);
      if (current && current.id === w.id) {
        current = null;
        replace(deliveriesEl, h("p", { class: "muted" }, t("webhooks.pickOne")));
      }
      toast(t("webhooks.deleted"), "ok");
      renderList();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  // -- deliveries --------------------------------------------------------------------------------------------------

  const statusFilter = h("select", { name: "status", "data-testid": "deliveries-status",
    onchange: () => loadDeliveries(true) },
  option("", t("common.all")), ["pending", "succeeded", "failed"].map((s) => option(s, t(`webhooks.delivery.${s}`))));
  const deliveriesTitle = h("p", { class: "strong url", dir: "auto" });
  const deliveriesTable = h("div", { "aria-live": "polite" });
  const moreButton = h("button", { type: "button", class: "secondary", hidden: true, "data-testid": "deliveries-more",
    onclick: (e) => busy(e.currentTarget, () => loadDeliveries(false)) }, t("action.more"));
  const refreshButton = h("button", { type: "button", class: "secondary", "data-testid": "deliveries-refresh",
    onclick: (e) => busy(e.currentTarget, () => loadDeliveries(true)) }, t("action.refresh"));

  function showDeliveries(w) {
    current = w;
    statusFilter.value = "";
    deliveriesTitle.textContent = t("webhooks.deliveriesFor", { url: w.url });
    replace(deliveriesEl, deliveriesTitle,
      h("div", { class: "toolbar" }, field(t("webhooks.filterStatus"), statusFilter), refreshButton),
      deliveriesTable, h("div", { class: "actions" }, moreButton));
    replace(deliveriesTable, h("p", { class: "muted" }, t("common.loading")));
    renderList();
    loadDeliveries(true);
    main.querySelector("#deliveries-title")?.focus();
  }

  async function loadDeliveries(fresh) {
    const hook = current;
    if (!hook) return;
    try {
      const page = await api("GET", `/v1/webhooks/${hook.id}/deliveries`, {
        query: { status: statusFilter.value || null, limit: 50, cursor: fresh ? null : deliveriesCursor },
      });
      if (closed || current !== hook) return;
      deliveries = fresh ? page.items : [...deliveries, ...page.items];
      deliveriesCursor = page.next_cursor;
      renderDeliveries();
    } catch (error) {
      if (closed || current !== hook) return;
      replace(deliveriesTable, h("p", { class: "notice error", role: "alert" }, error.message));
    }
  }

  function renderDeliveries() {
    const focused = deliveriesTable.contains(document.activeElement) ? document.activeElement.dataset.id : null;
    replace(deliveriesTable, table([
      { label: t("webhooks.event"), render: (d) => [eventLabel(d.event_type), h("br"),
        h("code", { dir: "ltr", class: "muted" }, d.event_type)] },
      { label: t("webhooks.occurred"), render: (d) => fmtDateTime(d.occurred_at) },
      { label: t("webhooks.status"), render: (d) => badge(t(`webhooks.delivery.${d.status}`), DELIVERY_KIND[d.status]) },
      { label: t("webhooks.attempts"), class: "num", render: (d) => fmtNumber(d.attempts) },
      { label: t("webhooks.response"), render: (d) => [
        d.last_status_code ? h("code", { dir: "ltr" }, `HTTP ${d.last_status_code}`) : "—",
        d.last_latency_ms !== null ? [" ", h("small", {}, t("webhooks.latency", { ms: fmtNumber(d.last_latency_ms) }))]
          : null,
        d.last_error && d.last_error !== `HTTP ${d.last_status_code}`
          ? [h("br"), h("small", { class: "error-text", dir: "auto" }, d.last_error)] : null] },
      { label: t("webhooks.lastAttempt"), render: (d) => fmtDateTime(d.last_attempt_at) },
      { label: t("webhooks.nextAttempt"), render: (d) => fmtDateTime(d.next_attempt_at) },
      { label: t("webhooks.delivered"), render: (d) => fmtDateTime(d.delivered_at) },
      { label: t("webhooks.actions"), render: (d) => (d.status === "pending"
        ? h("span", { class: "muted" }, t("webhooks.queued")) : h("button", {
        type: "button", class: d.status === "failed" ? "primary" : "secondary", "data-testid": "delivery-redeliver",
        "data-id": d.id, "aria-label": `${t("webhooks.redeliver")}: ${eventLabel(d.event_type)}, ${fmtDateTime(d.occurred_at)}`,
        onclick: (e) => redeliver(d, e.currentTarget),
      }, t("webhooks.redeliver"))) },
    ], deliveries, { empty: t("webhooks.noDeliveries"),
      rowAttrs: (d) => ({ "data-testid": "delivery-row", "data-id": d.id, "data-status": d.status,
        "data-event": d.event_type }) }));
    moreButton.hidden = !deliveriesCursor;
    if (focused) deliveriesTable.querySelector(`button[data-id="${CSS.escape(focused)}"]`)?.focus();
  }

  async function redeliver(d, b) {
    const hook = current;
    try {
      const updated = await busy(b, () => api("POST", `/v1/webhooks/${hook.id}/deliveries/${d.id}/redeliver`));
      if (current !== hook) return;
      deliveries = deliveries.map((x) => (x.id === updated.id ? updated : x));
      toast(t("webhooks.redelivered"), "ok");
      renderDeliveries();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  load();
  return () => {
    closed = true;
  };
}
