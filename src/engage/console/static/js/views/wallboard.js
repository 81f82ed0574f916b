// The wallboard (supervisors, admins): the floor at a glance, for a large screen. Calls now (active, ringing,
// connected), today's figures, every agent with their state and time in it, and each active campaign's dialled,
// connected and abandon rate against its target. Agent states change in place from `agent.state_changed`
// events; call and campaign events trigger a re-read of the figures they change (coalesced: at most twice a
// second however busy the floor), and a slow re-read every 20 s covers anything a reconnect skipped.

import { api, serverNow } from "../api.js";
import { h, replace, section, table, badge } from "../dom.js";
import { extend, fmtDuration, fmtNumber, fmtPercent, fmtTime, t } from "../i18n.js";
import { subscribe } from "../stream.js";

extend({
  en: {
    "wall.title": "Floor wallboard",
    "wall.updated": "Updated {time}",
    "wall.active": "Active calls",
    "wall.ringing": "Ringing",
    "wall.connected": "Connected",
    "wall.today": "Dialled today",
    "wall.connectedToday": "Connected today",
    "wall.abandonToday": "Abandon rate today",
    "wall.agents": "Agents",
    "wall.agentsSummary": "{total} agents: {available} available, {on_call} on a call, {wrap_up} in wrap-up",
    "wall.since": "for {duration}",
    "wall.noAgents": "No agents yet.",
    "wall.campaigns": "Active campaigns",
    "wall.campaign": "Campaign",
    "wall.dialled": "Dialled today",
    "wall.connectedCol": "Connected today",
    "wall.abandon": "Abandon rate",
    "wall.target": "Target",
    "wall.progress": "Contacted",
    "wall.noCampaigns": "No campaign is dialling.",
    "wall.overTarget": "over target",
    "wall.withinTarget": "within target",
    "wall.callsToday": "Calls today: {count}",
  },
  ar: {
    "wall.title": "لوحة مراقبة القاعة",
    "wall.updated": "آخر تحديث {time}",
    "wall.active": "المكالمات الجارية",
    "wall.ringing": "قيد الرنين",
    "wall.connected": "متصلة",
    "wall.today": "المطلوبة اليوم",
    "wall.connectedToday": "المتصلة اليوم",
    "wall.abandonToday": "نسبة المكالمات المتروكة اليوم",
    "wall.agents": "الموظفون",
    "wall.agentsSummary": "{total} موظفاً: {available} متاح، {on_call} في مكالمة، {wrap_up} في إنهاء المكالمة",
    "wall.since": "منذ {duration}",
    "wall.noAgents": "لا يوجد موظفون بعد.",
    "wall.campaigns": "الحملات النشطة",
    "wall.campaign": "الحملة",
    "wall.dialled": "المطلوبة اليوم",
    "wall.connectedCol": "المتصلة اليوم",
    "wall.abandon": "نسبة المتروكة",
    "wall.target": "الحد المستهدف",
    "wall.progress": "تم الاتصال بهم",
    "wall.noCampaigns": "لا توجد حملة تطلب الآن.",
    "wall.overTarget": "فوق الحد",
    "wall.withinTarget": "ضمن الحد",
    "wall.callsToday": "مكالمات اليوم: {count}",
  },
});

function tile(id, label, value, kind) {
  return h("div", { class: `tile ${kind || ""}`, "data-testid": `tile-${id}` },
    h("div", { class: "label" }, label),
    h("div", { class: "value", "data-testid": `tile-${id}-value` }, value));
}

export function mount(main) {
  const updated = h("span", { class: "muted", "aria-live": "off" });
  const tiles = h("div", { class: "tiles" });
  const agentsSummary = h("p", { class: "muted" });
  const agentsGrid = h("div", { class: "agents-grid", "data-testid": "agents-grid" });
  const campaigns = h("div", {});
  replace(main,
    h("div", { class: "page-head" }, h("h1", {}, t("wall.title")), updated),
    tiles,
    section(t("wall.campaigns"), campaigns),
    section(t("wall.agents"), agentsSummary, agentsGrid));

  const data = { active: null, today: null, board: null, campaigns: [], perCampaign: new Map() };
  const agents = new Map(); // id -> {full_name, state, state_since, calls_today}
  let stopped = false;

  function drawTiles() {
    const a = data.active || {};
    const d = data.today || {};
    replace(tiles,
      tile("active", t("wall.active"), fmtNumber(a.active_calls)),
      tile("ringing", t("wall.ringing"), fmtNumber(a.ringing), "warn"),
      tile("connected", t("wall.connected"), fmtNumber(a.connected), "ok"),
      tile("dialled-today", t("wall.today"), fmtNumber(d.total_calls)),
      tile("connected-today", t("wall.connectedToday"), fmtNumber(d.connected), "ok"),
      tile("abandon-today", t("wall.abandonToday"), fmtPercent(d.abandon_rate)));
  }

  function drawAgents() {
    const list = [...agents.values()].sort((x, y) => x.full_name.localeCompare(y.full_name));
    const count = (state) => list.filter((x) => x.state === state).length;
    agentsSummary.textContent = t("wall.agentsSummary", {
      total: fmtNumber(list.length), available: fmtNumber(count("available")),
      on_call: fmtNumber(count("on_call")), wrap_up: fmtNumber(count("wrap_up")),
    });
    const now = serverNow();
    replace(agentsGrid, list.length === 0 ? h("p", { class: "muted" }, t("wall.noAgents")) : list.map((agent) =>
      h("article", { class: "agent-card", "data-state": agent.state, "data-testid": "agent-card", "data-agent-id": agent.id },
        h("div", { class: "name" }, agent.full_name),
        h("div", { class: `state state-${agent.state}` }, t(`state.${agent.state}`)),
        h("div", { class: "since muted" },
          t("wall.since", { duration: fmtDuration((now - new Date(agent.state_since).getTime()) / 1000) })),
        h("div", { class: "muted" }, t("wall.callsToday", { count: fmtNumber(agent.calls_today || 0) })))));
  }

  function drawCampaigns() {
    const columns = [
      { key: "name", label: t("wall.campaign") },
      { label: t("wall.dialled"), class: "num", render: (c) => fmtNumber(data.perCampaign.get(c.id)?.total_calls) },
      { label: t("wall.connectedCol"), class: "num", render: (c) => fmtNumber(data.perCampaign.get(c.id)?.connected) },
      {
        label: t("wall.abandon"), class: "num",
        render: (c) => {
          const rate = data.perCampaign.get(c.id)?.abandon_rate ?? c.abandon_rate;
          const over = rate > c.abandon_rate_target;
          return h("span", {}, fmtPercent(rate), " ",
            badge(over ? t("wall.overTarget") : t("wall.withinTarget"), over ? "bad" : "ok"));
        },
      },
      { label: t("wall.target"), class: "num", render: (c) => fmtPercent(c.abandon_rate_target) },
      {
        label: t("wall.progress"),
        render: (c) => {
          const share = c.total_contacts ? (100 * c.contacted) / c.total_contacts : 0;
          return h("div", {},
            h("div", { class: "meter", role: "img", "aria-label": fmtPercent(share) },
              h("span", { style: `inline-size: ${share.toFixed(1)}%` })),
            h("small", {}, `${fmtNumber(c.contacted)} / ${fmtNumber(c.total_contacts)}`));
        },
      },
    ];
    replace(campaigns, table(columns, data.campaigns, {
      empty: t("wall.noCampaigns"),
      rowAttrs: (c) => ({ "data-testid": "campaign-row", "data-campaign-id": c.id }),
    }));
  }

  function stamp() {
    updated.textContent = t("wall.updated", { time: fmtTime(new Date(serverNow()).toISOString()) });
  }

  async function loadCalls() {
    const [active, today] = await Promise.all([api("GET", "/v1/calls/active-count"), api("GET", "/v1/calls/count-today")]);
    data.active = active;
    data.today = today;
    drawTiles();
  }

  async function loadAgents() {
    const board = await api("GET", "/v1/agents/state");
    agents.clear();
    for (const agent of board.agents) agents.set(agent.id, agent);
    drawAgents();
  }

  async function loadCampaigns() {
    const page = await api("GET", "/v1/campaigns", { query: { status: "active", limit: 50 } });
    data.campaigns = page.items;
    const figures = await Promise.all(page.items.slice(0, 20).map((c) =>
      api("GET", "/v1/calls/count-today", { query: { campaign_id: c.id } }).catch(() => null)));
    data.perCampaign = new Map(page.items.slice(0, 20).map((c, i) => [c.id, figures[i]]));
    drawCampaigns();
  }

  // Coalesced re-reads: each kind at most once per 500 ms, whatever the event rate.
  const pending = new Map();
  function soon(name, load) {
    if (pending.has(name) || stopped) return;
    pending.set(name, setTimeout(async () => {
      pending.delete(name);
      try {
        await load();
        stamp();
      } catch {
        /* the next event or the slow re-read tries again */
      }
    }, 500));
  }

  const unsubscribe = subscribe((event) => {
    const type = event.event_type;
    if (type === "agent.state_changed") {
      const p = event.payload;
      const known = agents.get(p.agent_id);
      if (known) {
        agents.set(p.agent_id, { ...known, state: p.state, state_since: p.state_since });
        drawAgents();
      } else soon("agents", loadAgents);
      stamp();
    } else if (type.startsWith("call.")) {
      soon("calls", loadCalls);
      soon("campaigns", loadCampaigns);
      if (type === "call.completed") soon("agents", loadAgents);
    } else if (type.startsWith("campaign.")) soon("campaigns", loadCampaigns);
  });

  async function loadAll() {
    await Promise.all([loadCalls(), loadAgents(), loadCampaigns()]);
    stamp();
  }

  drawTiles();
  loadAll().catch(() => {});
  const slow = setInterval(() => loadAll().catch(() => {}), 20000);
  const tick = setInterval(drawAgents, 1000);
  return () => {
    stopped = true;
    unsubscribe();
    clearInterval(slow);
    clearInterval(tick);
    for (const timer of pending.values()) clearTimeout(timer);
  };
}
