// The agent's desk: my availability (with a reason for a break), the call on my desk with the contact's name
// and custom fields, preview dialling (dial or skip the contact held for me), the disposition form (with a
// callback or do-not-call) and my calls today. The stream carries only this agent's own events; each call or
// state event re-reads the desk, so what is shown is always what the server says.

import { api, serverNow } from "../api.js";
import { badge, field, formValues, h, replace, section, showProblem, table, toast } from "../dom.js";
import {
  extend, fmtDuration, fmtTime, startOfToday, t, zonedInputToIso,
} from "../i18n.js";
import { subscribe } from "../stream.js";

const SETTABLE = ["available", "break", "lunch", "training", "offline"];
const BUSY = ["reserved", "on_call"];
const DISPOSITIONS = ["sale", "interested", "callback", "no_interest", "wrong_number", "not_reachable", "do_not_call"];

extend({
  en: {
    "desk.title": "My desk",
    "desk.myState": "My status",
    "desk.since": "since {time} ({duration})",
    "desk.reason": "Reason (optional)",
    "desk.set": "Set status: {state}",
    "desk.call": "Current call",
    "desk.busyHint": "Your status can change once this call ends.",
    "desk.noCall": "No call right now. When the dialler connects you, the contact appears here.",
    "desk.phone": "Phone",
    "desk.campaign": "Campaign",
    "desk.status": "Call status",
    "desk.duration": "Duration",
    "desk.attempts": "Attempts",
    "desk.customFields": "Contact details",
    "desk.hangup": "Hang up",
    "desk.hangupAsked": "Hang-up requested.",
    "desk.disposition": "Disposition",
    "desk.dispositionLabel": "Outcome",
    "desk.notes": "Notes",
    "desk.callback": "Call back at (organisation time)",
    "desk.dnc": "Add this number to the do-not-call list",
    "desk.dncOrCallback": "A number on the do-not-call list is never called back: choose one or the other.",
    "desk.submitDisposition": "Save disposition",
    "desk.dispositioned": "Disposition saved.",
    "desk.preview": "Preview dialling",
    "desk.previewNext": "Show next contact",
    "desk.previewNone": "No contact is waiting for preview.",
    "desk.heldUntil": "Held for you until {time}",
    "desk.dial": "Dial",
    "desk.skip": "Skip",
    "desk.dialled": "Dialling…",
    "desk.skipped": "Skipped.",
    "desk.today": "My calls today",
    "desk.started": "Started",
    "desk.talk": "Talk time",
    "disp.sale": "Sale",
    "disp.interested": "Interested",
    "disp.callback": "Call back",
    "disp.no_interest": "Not interested",
    "disp.wrong_number": "Wrong number",
    "disp.not_reachable": "Not reachable",
    "disp.do_not_call": "Do not call",
  },
  ar: {
    "desk.title": "مكتبي",
    "desk.myState": "حالتي",
    "desk.since": "منذ {time} ({duration})",
    "desk.reason": "السبب (اختياري)",
    "desk.set": "تعيين الحالة: {state}",
    "desk.call": "المكالمة الحالية",
    "desk.busyHint": "يمكن تغيير حالتك بعد انتهاء هذه المكالمة.",
    "desk.noCall": "لا توجد مكالمة الآن. عندما يوصلك نظام الاتصال، تظهر بيانات العميل هنا.",
    "desk.phone": "الهاتف",
    "desk.campaign": "الحملة",
    "desk.status": "حالة المكالمة",
    "desk.duration": "المدة",
    "desk.attempts": "المحاولات",
    "desk.customFields": "بيانات العميل",
    "desk.hangup": "إنهاء المكالمة",
    "desk.hangupAsked": "تم طلب إنهاء المكالمة.",
    "desk.disposition": "نتيجة المكالمة",
    "desk.dispositionLabel": "النتيجة",
    "desk.notes": "ملاحظات",
    "desk.callback": "معاودة الاتصال في (بتوقيت المؤسسة)",
    "desk.dnc": "إضافة هذا الرقم إلى قائمة عدم الاتصال",
    "desk.dncOrCallback": "لا يُعاد الاتصال برقم في قائمة عدم الاتصال: اختر أحدهما.",
    "desk.submitDisposition": "حفظ النتيجة",
    "desk.dispositioned": "تم حفظ النتيجة.",
    "desk.preview": "الاتصال بالمعاينة",
    "desk.previewNext": "عرض العميل التالي",
    "desk.previewNone": "لا يوجد عميل بانتظار المعاينة.",
    "desk.heldUntil": "محجوز لك حتى {time}",
    "desk.dial": "اتصال",
    "desk.skip": "تخطي",
    "desk.dialled": "جارٍ الاتصال…",
    "desk.skipped": "تم التخطي.",
    "desk.today": "مكالماتي اليوم",
    "desk.started": "البداية",
    "desk.talk": "مدة التحدث",
    "disp.sale": "بيع",
    "disp.interested": "مهتم",
    "disp.callback": "معاودة الاتصال",
    "disp.no_interest": "غير مهتم",
    "disp.wrong_number": "رقم خاطئ",
    "disp.not_reachable": "تعذر الوصول",
    "disp.do_not_call": "عدم الاتصال",
  },
});

function fullName(contact) {
  return [contact.first_name, contact.last_name].filter(Boolean).join(" ") || contact.phone;
}

export function mount(main, { session }) {
  const stateBox = h("div", { class: "my-state", "data-testid": "my-state" });
  const callBox = h("div", { "data-testid": "current-call" });
  const previewBox = h("div", { "data-testid": "preview" });
  const todayBox = h("div", { "data-testid": "calls-today" });
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, t("desk.title"))),
    h("div", { class: "desk" },
      h("div", {}, section(t("desk.call"), callBox), section(t("desk.preview"), previewBox)),
      h("div", {}, section(t("desk.myState"), stateBox), section(t("desk.today"), todayBox))));

  let mine = null; // {state, state_since, reason}
  let desk = { call: null, contact: null, campaign: null };
  let stopped = false;

  // One reason box for the page, for the next change: a redraw (a call reaching or leaving the agent, an event)
  // keeps what the agent is typing, and the buttons send what the agent sees. The stored reason shows beside the
  // state; the box empties once a change with it is saved.
  const reason = h("input", { name: "reason", maxlength: 500 });

  let sinceEl = null;
  function sinceText() {
    return t("desk.since", {
      time: fmtTime(mine.state_since),
      duration: fmtDuration((serverNow() - new Date(mine.state_since).getTime()) / 1000),
    });
  }

  function drawState() {
    if (!mine) return;
    const typing = document.activeElement === reason;
    // Reserved for or on a call, the status is the dialler's until the call ends (the API answers 409).
    const busy = BUSY.includes(mine.state);
    sinceEl = h("div", { class: "muted" }, sinceText());
    replace(stateBox,
      h("div", {},
        h("div", { class: `current state-${mine.state}`, "data-testid": "my-state-value", "data-state": mine.state },
          t(`state.${mine.state}`)),
        sinceEl,
        mine.reason ? h("div", {}, mine.reason) : null),
      h("div", { class: "stack", style: "inline-size: 100%" },
        field(t("desk.reason"), reason),
        busy ? h("p", { class: "hint", id: "desk-busy-hint", "data-testid": "state-busy" }, t("desk.busyHint")) : null,
        h("div", { class: "toolbar", role: "group", "aria-label": t("desk.myState") },
          SETTABLE.map((state) => h("button", {
            type: "button",
            class: state === "available" ? "primary" : "secondary",
            disabled: busy,
            "aria-describedby": busy ? "desk-busy-hint" : null,
            "aria-pressed": String(state === mine.state),
            "data-testid": `set-state-${state}`,
            "aria-label": t("desk.set", { state: t(`state.${state}`) }),
            onclick: () => setState(state, reason.value),
          }, t(`state.${state}`))))));
    if (typing) reason.focus();
  }

  async function setState(state, text) {
    try {
      mine = await api("POST", "/v1/agents/me/state", { body: { state, reason: text || null } });
      reason.value = "";
      drawState();
    } catch (error) {
      toast(error.message, "error");
      // A call may have reached the agent meanwhile (409 agent-on-call): show what the server holds now.
      mine = await api("GET", "/v1/agents/me/state").catch(() => mine);
      drawState();
    }
  }

  function drawCall() {
    const { call, contact, campaign } = desk;
    if (!call) {
      replace(callBox, h("p", { class: "muted" }, t("desk.noCall")));
      return;
    }
    const live = !call.ended_at;
    const started = new Date(call.answered_at || call.started_at).getTime();
    const custom = Object.entries((contact && contact.custom_fields) || {});
    const details = h("dl", {},
      h("dt", {}, t("desk.phone")), h("dd", {}, h("span", { class: "phone" }, call.contact_phone)),
      h("dt", {}, t("desk.campaign")), h("dd", {}, campaign ? campaign.name : "—"),
      h("dt", {}, t("desk.status")), h("dd", {}, badge(t(`call.${call.status}`), live ? "ok" : "info")),
      h("dt", {}, t("desk.duration")),
      h("dd", { "data-testid": "call-duration" },
        fmtDuration(live ? (serverNow() - started) / 1000 : call.duration_seconds)),
      contact ? [h("dt", {}, t("desk.attempts")), h("dd", {}, String(contact.attempts))] : null);
    replace(callBox,
      h("div", { class: "contact-card", "data-call-id": call.id },
        h("div", { class: "contact-name", "data-testid": "contact-name" }, contact ? fullName(contact) : call.contact_phone),
        details,
        custom.length ? [h("h3", {}, t("desk.customFields")),
          h("dl", { "data-testid": "custom-fields" }, custom.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))] : null,
        live ? h("div", { class: "actions" }, h("button", {
          type: "button", class: "danger", "data-testid": "hangup",
          onclick: async () => {
            try {
              await api("POST", `/v1/calls/${call.id}/hangup`);
              toast(t("desk.hangupAsked"));
            } catch (error) {
              toast(error.message, "error");
            }
          },
        }, t("desk.hangup"))) : null),
      call.disposition ? null : dispositionForm(call));
  }

  // The form of the call on the desk is kept across re-reads, so an event arriving while the agent types
  // (the call ending, say) does not wipe what was typed.
  let kept = { id: null, form: null };
  function dispositionForm(call) {
    if (kept.id !== call.id) kept = { id: call.id, form: newDispositionForm(call) };
    return kept.form;
  }

  function newDispositionForm(call) {
    const notice = h("p", { class: "form-notice notice error", role: "alert", hidden: true });
    const form = h("form", { class: "panel", "data-testid": "disposition-form", "aria-labelledby": "disp-title" },
      h("h3", { id: "disp-title" }, t("desk.disposition")),
      notice,
      field(t("desk.dispositionLabel"), h("select", { name: "disposition", required: true },
        DISPOSITIONS.map((d) => h("option", { value: d }, t(`disp.${d}`))))),
      field(t("desk.notes"), h("textarea", { name: "notes", maxlength: 2000 })),
      field(t("desk.callback"), h("input", { name: "callback_at", type: "datetime-local" })),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "add_to_dnc" }), t("desk.dnc")),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary", "data-testid": "submit-disposition" }, t("desk.submitDisposition"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = formValues(form);
      if (values.callback_at && values.add_to_dnc) {
        notice.textContent = t("desk.dncOrCallback");
        notice.hidden = false;
        return;
      }
      const body = { disposition: values.disposition, notes: values.notes, add_to_dnc: values.add_to_dnc };
      if (values.callback_at) body.callback_at = zonedInputToIso(values.callback_at);
      try {
        await api("POST", `/v1/calls/${call.id}/disposition`, { body });
        toast(t("desk.dispositioned"), "ok");
        await Promise.all([loadDesk(), loadToday()]);
      } catch (error) {
        showProblem(form, error);
      }
    });
    return form;
  }

  async function loadPreview() {
    try {
      const held = await api("GET", "/v1/agents/me/preview");
      drawPreview(held);
    } catch (error) {
      replace(previewBox, h("p", { class: "notice warn", role: "status" }, error.message), previewButton());
    }
  }

  function previewButton() {
    return h("button", { type: "button", class: "secondary", "data-testid": "preview-next", onclick: loadPreview },
      t("desk.previewNext"));
  }

  function drawPreview(held) {
    if (!held || !held.contact) {
      replace(previewBox, held ? h("p", { class: "muted" }, t("desk.previewNone")) : null, previewButton());
      return;
    }
    const { contact, campaign } = held;
    const choose = (verb) => async () => {
      try {
        await api("POST", `/v1/agents/me/preview/${verb}`, { body: { contact_id: contact.id } });
        toast(t(verb === "dial" ? "desk.dialled" : "desk.skipped"));
        if (verb === "dial") {
          replace(previewBox, previewButton());
          await loadDesk();
        } else await loadPreview();
      } catch (error) {
        toast(error.message, "error");
      }
    };
    replace(previewBox,
      h("div", { class: "contact-card", "data-testid": "preview-contact" },
        h("div", { class: "contact-name" }, fullName(contact)),
        h("dl", {},
          h("dt", {}, t("desk.phone")), h("dd", {}, h("span", { class: "phone" }, contact.phone)),
          h("dt", {}, t("desk.campaign")), h("dd", {}, campaign ? campaign.name : "—"),
          Object.entries(contact.custom_fields || {}).map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
        h("p", { class: "muted" }, t("desk.heldUntil", { time: fmtTime(held.reserved_until) })),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "primary", "data-testid": "preview-dial", onclick: choose("dial") }, t("desk.dial")),
          h("button", { type: "button", class: "secondary", "data-testid": "preview-skip", onclick: choose("skip") }, t("desk.skip")))));
  }

  async function loadState() {
    mine = await api("GET", "/v1/agents/me/state");
    drawState();
  }

  async function loadDesk() {
    desk = await api("GET", "/v1/agents/me/call");
    drawCall();
  }

  async function loadToday() {
    const page = await api("GET", "/v1/calls", { query: { from: startOfToday(), limit: 50 } });
    replace(todayBox, table([
      { label: t("desk.started"), class: "nowrap", render: (c) => fmtTime(c.started_at) },
      { label: t("desk.phone"), render: (c) => h("span", { class: "phone" }, c.contact_phone) },
      { label: t("desk.status"), class: "nowrap", render: (c) => t(`call.${c.status}`) },
      { label: t("desk.talk"), class: "num", render: (c) => fmtDuration(c.talk_time_seconds) },
      { label: t("desk.disposition"), render: (c) => (c.disposition ? t(`disp.${c.disposition}`) : "—") },
    ], page.items, { rowAttrs: () => ({ "data-testid": "today-row" }) }));
  }

  let pending = null;
  function refreshSoon() {
    if (pending || stopped) return;
    pending = setTimeout(async () => {
      pending = null;
      await Promise.all([loadDesk(), loadToday()]).catch(() => {});
    }, 300);
  }

  const unsubscribe = subscribe((event) => {
    const p = event.payload || {};
    if (event.event_type === "agent.state_changed" && p.agent_id === session.user.id) {
      mine = { agent_id: p.agent_id, state: p.state, state_since: p.state_since, reason: p.reason };
      drawState();
      refreshSoon();
    } else if (event.event_type.startsWith("call.")) refreshSoon();
  });

  Promise.all([loadState(), loadDesk(), loadToday()]).catch((error) => toast(error.message, "error"));
  replace(previewBox, previewButton());
  // The clocks (time in state, call duration) tick each second; the desk is re-read every 15 s as a safety net.
  const tick = setInterval(() => {
    if (mine && sinceEl) sinceEl.textContent = sinceText();
    const duration = callBox.querySelector('[data-testid="call-duration"]');
    if (duration && desk.call && !desk.call.ended_at) {
      const started = new Date(desk.call.answered_at || desk.call.started_at).getTime();
      duration.textContent = fmtDuration((serverNow() - started) / 1000);
    }
  }, 1000);
  const slow = setInterval(() => Promise.all([loadDesk(), loadToday()]).catch(() => {}), 15000);
  return () => {
    stopped = true;
    unsubscribe();
    clearInterval(tick);
    clearInterval(slow);
    clearTimeout(pending);
  };
}
