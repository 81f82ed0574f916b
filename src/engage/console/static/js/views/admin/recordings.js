// Recordings (every role; an agent sees only their own calls' recordings, which the API narrows by itself): a
// filtered list (campaign, agent, dates in the organisation's zone, minimum duration), a player that asks for a
// fresh signed URL on every Play (GET /v1/recordings/{id}/play) and plays it in the page, and, for admins,
// deleting a recording after a confirmation (the audio goes; the record of who deleted it stays).

import { all, api } from "../../api.js";
import { field, formValues, h, replace, section, table, toast } from "../../dom.js";
import { extend, fmtDateTime, fmtDuration, fmtNumber, t } from "../../i18n.js";
import { busy, confirmDialog, dayEnd, dayStart, option, pageHead, showLoadError } from "./shared.js";

extend({
  en: {
    "recordings.title": "Recordings",
    "recordings.filters": "Find recordings",
    "recordings.campaign": "Campaign",
    "recordings.agent": "Agent",
    "recordings.from": "From",
    "recordings.to": "To",
    "recordings.minDuration": "Minimum length (seconds)",
    "recordings.search": "Show recordings",
    "recordings.clear": "Clear filters",
    "recordings.list": "Recordings",
    "recordings.recordedAt": "Recorded",
    "recordings.phone": "Phone",
    "recordings.duration": "Length",
    "recordings.size": "Size",
    "recordings.sizeMb": "{size} MB",
    "recordings.actions": "Actions",
    "recordings.play": "Play",
    "recordings.playLabel": "Play the recording of {phone}, {time}",
    "recordings.delete": "Delete",
    "recordings.deleteLabel": "Delete the recording of {phone}, {time}",
    "recordings.deleteTitle": "Delete this recording?",
    "recordings.deleteBody": "The audio of the call to {phone} on {time} is removed from storage for good. A record of who deleted it and when is kept.",
    "recordings.deleted": "Recording deleted.",
    "recordings.empty": "No recordings match these filters.",
    "recordings.ownOnly": "You see the recordings of your own calls.",
    "recordings.player": "Player",
    "recordings.nowPlaying": "Call to {phone} — {agent}, {time} ({duration})",
    "recordings.expires": "This playback link works until {time}; press Play again for a new one.",
    "recordings.count": "{shown} of {total} recordings",
    "recordings.unknownAgent": "Unknown agent",
  },
  ar: {
    "recordings.title": "التسجيلات",
    "recordings.filters": "البحث في التسجيلات",
    "recordings.campaign": "الحملة",
    "recordings.agent": "الموظف",
    "recordings.from": "من تاريخ",
    "recordings.to": "إلى تاريخ",
    "recordings.minDuration": "أقل مدة (بالثواني)",
    "recordings.search": "عرض التسجيلات",
    "recordings.clear": "مسح عوامل التصفية",
    "recordings.list": "التسجيلات",
    "recordings.recordedAt": "وقت التسجيل",
    "recordings.phone": "الهاتف",
    "recordings.duration": "المدة",
    "recordings.size": "الحجم",
    "recordings.sizeMb": "{size} ميغابايت",
    "recordings.actions": "الإجراءات",
    "recordings.play": "تشغيل",
    "recordings.playLabel": "تشغيل تسجيل مكالمة {phone}، {time}",
    "recordings.delete": "حذف",
    "recordings.deleteLabel": "حذف تسجيل مكالمة {phone}، {time}",
    "recordings.deleteTitle": "حذف هذا التسجيل؟",
    "recordings.deleteBody": "سيُحذف صوت المكالمة مع {phone} بتاريخ {time} من التخزين نهائياً، مع الاحتفاظ بسجل يبيّن من حذفه ومتى.",
    "recordings.deleted": "تم حذف التسجيل.",
    "recordings.empty": "لا توجد تسجيلات مطابقة لعوامل التصفية هذه.",
    "recordings.ownOnly": "تظهر لك تسجيلات مكالماتك فقط.",
    "recordings.player": "المشغّل",
    "recordings.nowPlaying": "مكالمة مع {phone} — {agent}، {time} ({duration})",
    "recordings.expires": "رابط التشغيل هذا صالح حتى {time}؛ اضغط «تشغيل» مجدداً للحصول على رابط جديد.",
    "recordings.count": "عرض {shown} من أصل {total}",
    "recordings.unknownAgent": "موظف غير معروف",
  },
});

const PAGE = 50;

export function mount(main, ctx) {
  const role = ctx.session.user.role;
  let closed = false;
  let rows = [];
  let total = 0;
  let cursor = null;
  let query = {};
  let campaigns = [];
  const campaignName = (id) => (campaigns.find((c) => c.id === id) || {}).name;

  const campaignSelect = h("select", { name: "campaign_id", "data-testid": "recordings-campaign" },
    option("", t("common.all")));
  const agentSelect = role === "agent" ? null : h("select", { name: "agent_id", "data-testid": "recordings-agent" },
    option("", t("common.all")));
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "recordings-search" },
    t("recordings.search"));
  const filters = h("form", { class: "toolbar", novalidate: true, "data-testid": "recordings-filters" },
    field(t("recordings.campaign"), campaignSelect),
    agentSelect ? field(t("recordings.agent"), agentSelect) : null,
    field(t("recordings.from"), h("input", { name: "from", type: "date", "data-testid": "recordings-from" })),
    field(t("recordings.to"), h("input", { name: "to", type: "date", "data-testid": "recordings-to" })),
    field(t("recordings.minDuration"), h("input", { name: "min_duration", type: "number", min: 0, max: 86400,
      step: 1, "data-testid": "recordings-min-duration" })),
    submit,
    h("button", { type: "reset", class: "secondary" }, t("recordings.clear")));
  const listEl = h("div", { "data-testid": "recording-list" });
  const countEl = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", class: "secondary", hidden: true, "data-testid": "recordings-more",
    onclick: (e) => busy(e.currentTarget, () => loadPage(false)) }, t("action.more"));
  const audio = h("audio", { controls: true, preload: "none", "data-testid": "recording-player" });
  const caption = h("p", { "data-testid": "recording-now-playing" });
  const expiry = h("p", { class: "muted" });
  const player = h("div", { hidden: true, class: "player" }, caption, audio, expiry);
  const playerSection = section(t("recordings.player"), player);
  playerSection.hidden = true;

  replace(main,
    pageHead(t("recordings.title")),
    role === "agent" ? h("p", { class: "notice" }, t("recordings.ownOnly")) : null,
    section(t("recordings.filters"), filters),
    playerSection,
    section(t("recordings.list"), countEl, listEl, h("div", { class: "actions" }, more)));

  async function loadChoices() {
    try {
      campaigns = await all("/v1/campaigns", { limit: 100 }, 1000);
      campaigns.sort((a, b) => a.name.localeCompare(b.name));
      campaignSelect.append(...campaigns.map((c) => option(c.id, c.name)));
    } catch {
      // Without the campaign names the filter offers "All" only and the list shows no campaign column names.
    }
    if (agentSelect) {
      try {
        const board = await api("GET", "/v1/agents/state");
        const agents = [...board.agents].sort((a, b) => a.full_name.localeCompare(b.full_name));
        agentSelect.append(...agents.map((a) => option(a.id, a.full_name)));
      } catch {
        // Listing the floor needs agents:read; without it the agent filter stays at "All".
      }
    }
  }

  async function loadPage(fresh) {
    try {
      const page = await api("GET", "/v1/recordings", { query: { ...query, limit: PAGE, cursor: fresh ? null : cursor } });
      if (closed) return;
      rows = fresh ? page.items : [...rows, ...page.items];
      total = page.total;
      cursor = page.next_cursor;
      render();
    } catch (error) {
      if (closed) return;
      showLoadError(listEl, error, () => loadPage(true));
    }
  }

  function render() {
    const cols = [
      { label: t("recordings.recordedAt"), render: (r) => fmtDateTime(r.recorded_at) },
      { label: t("recordings.agent"), render: (r) => r.agent_name || "—" },
      { label: t("recordings.campaign"), render: (r) => (r.campaign_id ? campaignName(r.campaign_id) || "—" : "—") },
      { label: t("recordings.phone"), render: (r) => h("span", { class: "phone" }, r.contact_phone) },
      { label: t("recordings.duration"), class: "num", render: (r) => fmtDuration(r.duration_seconds) },
      { label: t("recordings.size"), class: "num",
        render: (r) => t("recordings.sizeMb", { size: fmtNumber(r.size_bytes / 1048576, 1) }) },
      { label: t("recordings.actions"), render: (r) => h("div", { class: "row-actions" },
        h("button", { type: "button", class: "primary", "data-testid": "recording-play", "data-id": r.id,
          "aria-label": t("recordings.playLabel", { phone: r.contact_phone, time: fmtDateTime(r.recorded_at) }),
          onclick: (e) => play(r, e.currentTarget) }, "▶ ", t("recordings.play")),
        role === "admin" ? h("button", { type: "button", class: "danger", "data-testid": "recording-delete",
          "data-id": r.id,
          "aria-label": t("recordings.deleteLabel", { phone: r.contact_phone, time: fmtDateTime(r.recorded_at) }),
          onclick: (e) => remove(r, e.currentTarget) }, t("recordings.delete")) : null) },
    ];
    replace(listEl, table(cols, rows, { empty: t("recordings.empty"),
      rowAttrs: (r) => ({ "data-testid": "recording-row", "data-id": r.id }) }));
    countEl.textContent = rows.length ? t("recordings.count", { shown: fmtNumber(rows.length), total: fmtNumber(total) })
      : "";
    more.hidden = !cursor;
  }

  async function play(recording, button) {
    try {
      const signed = await busy(button, () => api("GET", `/v1/recordings/${recording.id}/play`));
      if (closed) return;
      caption.textContent = t("recordings.nowPlaying", {
        phone: recording.contact_phone, agent: recording.agent_name || t("recordings.unknownAgent"),
        time: fmtDateTime(recording.recorded_at), duration: fmtDuration(signed.duration_seconds),
      });
      expiry.textContent = t("recordings.expires", { time: fmtDateTime(signed.expires_at) });
      audio.dataset.id = recording.id;
      audio.src = signed.url;
      player.hidden = false;
      playerSection.hidden = false;
      audio.focus();
      audio.play().catch(() => {
        // The browser may refuse to start by itself; the controls are there to start it.
      });
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function remove(recording, button) {
    const time = fmtDateTime(recording.recorded_at);
    const ok = await confirmDialog(t("recordings.deleteTitle"),
      t("recordings.deleteBody", { phone: recording.contact_phone, time }),
      { confirm: t("recordings.delete"), danger: true, testid: "recording-delete-confirm" });
    if (!ok) return;
    try {
      await busy(button, () => api("DELETE", `/v1/recordings/${recording.id}`));
      if (audio.dataset.id === recording.id) {
        audio.pause();
        audio.removeAttribute("src");
        audio.load();
        playerSection.hidden = true;
      }
      rows = rows.filter((r) => r.id !== recording.id);
      total = Math.max(0, total - 1);
      toast(t("recordings.deleted"), "ok");
      render();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const v = formValues(filters);
    query = {
      campaign_id: v.campaign_id, agent_id: v.agent_id,
      from: v.from ? dayStart(v.from) : null, to: v.to ? dayEnd(v.to) : null,
      min_duration: v.min_duration === null ? null : Math.max(0, Math.round(v.min_duration)),
    };
    busy(submit, () => loadPage(true));
  });
  filters.addEventListener("reset", () => {
    setTimeout(() => filters.requestSubmit(), 0);
  });

  loadChoices().then(() => {
    if (!closed && rows.length) render();
  });
  loadPage(true);
  return () => {
    closed = true;
    audio.pause();
  };
}
