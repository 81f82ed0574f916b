// A campaign's two insights, drawn into its detail (campaigns.js): why it is or is not dialling (GET .../diagnostics
// put into plain sentences) and a staffing forecast drawn as a chart of occupancy and abandon rate against agent count
// (POST .../forecast, once per agent count). Each draws into `part`, the selected campaign's regions, and stops
// drawing once `part.stopped` is set.

import { api } from "../../api.js";
import { badge, field, formValues, h, replace, showProblem, table } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, fmtPercent, lang, t } from "../../i18n.js";
import { lineChart } from "./chart.js";
import { clearNotice, facts, formNotice, regionName } from "./shared.js";

const MAX_FORECAST_POINTS = 8;

extend({
  en: {
    "campaigns.asOf": "As of {time}",
    "campaigns.dialling": "The campaign is dialling: {lines} calls in progress.",
    "campaigns.notDialling": "The campaign is not dialling now.",
    "campaigns.because": "Why:",
    "campaigns.alsoNote": "Also worth knowing:",
    "campaigns.blocking": "Stops dialling",
    "campaigns.note": "Note",
    "campaigns.technical": "Technical detail",
    "campaigns.why.campaign_not_active": "The campaign is not active (it is {status}); only an active campaign dials.",
    "campaigns.why.no_worker": "No dialler worker has picked up the campaign. Check that the dialler service is running.",
    "campaigns.why.no_worker_stale": "The dialler worker handling this campaign has stopped reporting; another worker will take it over.",
    "campaigns.why.switch_disconnected": "The dialler has lost its connection to the telephone switch. It reconnects by itself; no calls are placed meanwhile.",
    "campaigns.why.no_agents_assigned": "No agent is assigned to the campaign. Assign agents above.",
    "campaigns.why.no_agents_logged_in": "None of the {assigned} agents assigned to the campaign is logged in.",
    "campaigns.why.no_agents_registered": "The available agents’ phones are not registered with the switch: {names}.",
    "campaigns.why.no_agents_available": "No agent is available: {busy} busy with calls or wrap-up, {away} on a break, lunch or training.",
    "campaigns.why.dialsAhead": "The predictive dialler still dials ahead for agents about to finish their calls.",
    "campaigns.why.list_exhausted": "There are no contacts left to dial.",
    "campaigns.why.list_exhausted_inflight": "There are no contacts left to dial; the campaign completes itself once the {count} calls in progress end.",
    "campaigns.why.outside_calling_window": "Every remaining contact is outside the permitted calling hours right now. Next opening: {openings}.",
    "campaigns.why.waiting_for_retries": "All {count} remaining contacts are waiting for a later attempt; the next one is due {time}.",
    "campaigns.why.pacer_holding_back": "The {mode} pacer is holding back new calls for the moment.",
    "campaigns.why.pacer_holding_back_inflight": "The {mode} pacer is holding back new calls while {count} calls are in progress.",
    "campaigns.why.blocked": "In the last 24 hours the compliance checks refused numbers of this campaign: {rules}.",
    "campaigns.unknownPlace": "unknown country",
    "campaigns.rule.calling_hours": "outside calling hours",
    "campaigns.rule.dnc_national": "national do-not-call registry",
    "campaigns.rule.dnc_tenant": "your do-not-call list",
    "campaigns.rule.consent": "no consent",
    "campaigns.rule.cli_ownership": "caller ID not owned",
    "campaigns.rule.frequency_cap": "repeat-call limit",
    "campaigns.rule.compliance_error": "check could not run",
    "campaigns.ruleCount": "{rule}: {count}",
    "campaigns.factAgents": "{ready} of {assigned} assigned agents are ready for calls ({logged_in} logged in, {busy} busy, {away} away).",
    "campaigns.factContacts": "{dialable} of {total} contacts can be dialled now; {remaining} are still to be called.",
    "campaigns.factRetry": "{count} wait for a retry; the next is due {time}.",
    "campaigns.factCallbacks": "{count} callbacks are scheduled; the next is due {time}.",
    "campaigns.factPreview": "{count} contacts are held for agents to preview.",
    "campaigns.factLines": "{count} calls in progress.",
    "campaigns.factWindowOpen": "{place}: {count} contacts, calling hours open now.",
    "campaigns.factWindowClosed": "{place}: {count} contacts, calling hours open {time}.",
    "campaigns.factWorker": "Paced by {host}; last heartbeat {age} seconds ago.",
    "campaigns.forecastHint": "Simulates this campaign with different numbers of agents, using how its recent calls went. Each agent count takes a couple of seconds.",
    "campaigns.forecastPreview": "Forecasts are not available for preview campaigns: agents set the pace themselves.",
    "campaigns.agentsFrom": "Agents from",
    "campaigns.agentsTo": "Agents up to",
    "campaigns.hours": "Hours ahead",
    "campaigns.runForecast": "Run forecast",
    "campaigns.forecasting": "Simulating {done} of {total} agent counts…",
    "campaigns.forecastDone": "Forecast ready for {total} agent counts.",
    "campaigns.forecastRange": "“Agents up to” must be at least “Agents from”.",
    "campaigns.agentCount": "Agents",
    "campaigns.percent": "Percent",
    "campaigns.occupancy": "Agent occupancy",
    "campaigns.abandonRate": "Abandon rate",
    "campaigns.target": "Abandon-rate target",
    "campaigns.connectsPerHour": "Connections per hour",
    "campaigns.dialsPerHour": "Dials per hour",
    "campaigns.exhaustedAt": "List runs out",
    "campaigns.notInHorizon": "Not within the horizon",
    "campaigns.forecastFigures": "Staffing forecast figures",
    "campaigns.chartLabel": "Staffing forecast for {from} to {to} agents over {hours} hours. Occupancy goes from {occFrom} to {occTo}; the abandon rate from {abFrom} to {abTo}.",
    "campaigns.meetsTarget": "With {count} agents or more the abandon rate stays within the {target} target.",
    "campaigns.missesTarget": "No tested number of agents keeps the abandon rate within the {target} target.",
    "campaigns.priors": "Few calls so far: the forecast leans on typical figures more than on this campaign’s history.",
  },
  ar: {
    "campaigns.asOf": "حتى {time}",
    "campaigns.dialling": "الحملة تطلب الآن؛ المكالمات الجارية: {lines}.",
    "campaigns.notDialling": "الحملة لا تطلب الآن.",
    "campaigns.because": "السبب:",
    "campaigns.alsoNote": "للعلم أيضاً:",
    "campaigns.blocking": "يوقف الطلب",
    "campaigns.note": "ملاحظة",
    "campaigns.technical": "تفاصيل تقنية",
    "campaigns.why.campaign_not_active": "الحملة غير نشطة (حالتها: {status})؛ ولا تطلب إلا الحملة النشطة.",
    "campaigns.why.no_worker": "لم تتسلّم أي وحدة طلب هذه الحملة. تحقّق من أن خدمة الطلب الآلي تعمل.",
    "campaigns.why.no_worker_stale": "توقفت وحدة الطلب المسؤولة عن هذه الحملة عن الإبلاغ عن حالتها؛ وستتسلّمها وحدة أخرى.",
    "campaigns.why.switch_disconnected": "فقدت خدمة الطلب اتصالها بمقسم الهاتف. ستعيد الاتصال تلقائياً، ولن تُجرى مكالمات حتى ذلك الحين.",
    "campaigns.why.no_agents_assigned": "لا يوجد موظف معيّن على الحملة. عيّن موظفين من القسم أعلاه.",
    "campaigns.why.no_agents_logged_in": "لم يسجّل أيٌّ من الموظفين المعيّنين على الحملة ({assigned}) دخوله.",
    "campaigns.why.no_agents_registered": "هواتف الموظفين المتاحين غير مسجّلة على المقسم: {names}.",
    "campaigns.why.no_agents_available": "لا يوجد موظف متاح (المشغولون بمكالمات أو بإنهائها: {busy}، ومن في استراحة أو غداء أو تدريب: {away}).",
    "campaigns.why.dialsAhead": "ما زال الطلب التنبؤي يطلب مسبقاً للموظفين الذين يوشكون على إنهاء مكالماتهم.",
    "campaigns.why.list_exhausted": "لم تبقَ جهات اتصال للطلب.",
    "campaigns.why.list_exhausted_inflight": "لم تبقَ جهات اتصال للطلب؛ وستكتمل الحملة تلقائياً عند انتهاء المكالمات الجارية ({count}).",
    "campaigns.why.outside_calling_window": "كل جهات الاتصال المتبقية خارج أوقات الاتصال المسموح بها الآن. أقرب موعد: {openings}.",
    "campaigns.why.waiting_for_retries": "كل جهات الاتصال المتبقية ({count}) بانتظار محاولة لاحقة؛ وأقربها {time}.",
    "campaigns.why.pacer_holding_back": "منظّم الوتيرة ({mode}) يؤجّل المكالمات الجديدة في الوقت الحالي.",
    "campaigns.why.pacer_holding_back_inflight": "منظّم الوتيرة ({mode}) يؤجّل المكالمات الجديدة في أثناء المكالمات الجارية ({count}).",
    "campaigns.why.blocked": "خلال آخر 24 ساعة رفضت فحوص الامتثال أرقاماً من هذه الحملة: {rules}.",
    "campaigns.unknownPlace": "بلد غير معروف",
    "campaigns.rule.calling_hours": "خارج أوقات الاتصال",
    "campaigns.rule.dnc_national": "السجل الوطني لعدم الاتصال",
    "campaigns.rule.dnc_tenant": "قائمة عدم الاتصال الخاصة بكم",
    "campaigns.rule.consent": "لا توجد موافقة",
    "campaigns.rule.cli_ownership": "رقم متصل غير مملوك",
    "campaigns.rule.frequency_cap": "حد تكرار الاتصال",
    "campaigns.rule.compliance_error": "تعذّر إجراء الفحص",
    "campaigns.ruleCount": "{rule}: {count}",
    "campaigns.factAgents": "الموظفون الجاهزون لتلقي المكالمات: {ready} من أصل {assigned} معيّنين (مسجّلو الدخول: {logged_in}، المشغولون: {busy}، الغائبون مؤقتاً: {away}).",
    "campaigns.factContacts": "جهات الاتصال التي يمكن طلبها الآن: {dialable} من أصل {total}؛ والمتبقية بانتظار الاتصال: {remaining}.",
    "campaigns.factRetry": "بانتظار إعادة المحاولة: {count}، وأقربها {time}.",
    "campaigns.factCallbacks": "معاودات الاتصال المجدولة: {count}، وأقربها {time}.",
    "campaigns.factPreview": "جهات الاتصال المحجوزة لمعاينة الموظفين: {count}.",
    "campaigns.factLines": "المكالمات الجارية: {count}.",
    "campaigns.factWindowOpen": "{place}: عدد جهات الاتصال {count}، وأوقات الاتصال مفتوحة الآن.",
    "campaigns.factWindowClosed": "{place}: عدد جهات الاتصال {count}، وتُفتح أوقات الاتصال {time}.",
    "campaigns.factWorker": "تتولى وحدة الطلب على {host} هذه الحملة؛ آخر إشارة قبل {age} ثانية.",
    "campaigns.forecastHint": "يحاكي هذه الحملة بأعداد مختلفة من الموظفين استناداً إلى نتائج مكالماتها الأخيرة. يستغرق كل عدد بضع ثوانٍ.",
    "campaigns.forecastPreview": "التوقّع غير متاح لحملات المعاينة: فالموظفون يحددون الوتيرة بأنفسهم.",
    "campaigns.agentsFrom": "عدد الموظفين من",
    "campaigns.agentsTo": "عدد الموظفين حتى",
    "campaigns.hours": "عدد الساعات القادمة",
    "campaigns.runForecast": "تشغيل التوقّع",
    "campaigns.forecasting": "جارٍ المحاكاة: {done} من أصل {total}…",
    "campaigns.forecastDone": "اكتمل التوقّع (عدد الحالات المحاكاة: {total}).",
    "campaigns.forecastRange": "يجب ألا يقل «عدد الموظفين حتى» عن «عدد الموظفين من».",
    "campaigns.agentCount": "عدد الموظفين",
    "campaigns.percent": "النسبة المئوية",
    "campaigns.occupancy": "نسبة انشغال الموظفين",
    "campaigns.abandonRate": "نسبة المكالمات المتروكة",
    "campaigns.target": "الحد المستهدف لنسبة المتروكة",
    "campaigns.connectsPerHour": "الاتصالات الناجحة في الساعة",
    "campaigns.dialsPerHour": "الطلبات في الساعة",
    "campaigns.exhaustedAt": "نفاد القائمة",
    "campaigns.notInHorizon": "ليس ضمن المدة المحددة",
    "campaigns.forecastFigures": "أرقام توقّع الاحتياج من الموظفين",
    "campaigns.chartLabel": "توقّع الاحتياج من الموظفين (من {from} إلى {to} موظفين، وعدد الساعات: {hours}). تتراوح نسبة الانشغال من {occFrom} إلى {occTo}، ونسبة المتروكة من {abFrom} إلى {abTo}.",
    "campaigns.meetsTarget": "عندما يبلغ عدد الموظفين {count} أو أكثر تبقى نسبة المتروكة ضمن الحد المستهدف ({target}).",
    "campaigns.missesTarget": "لا يوجد عدد مُختبَر من الموظفين يُبقي نسبة المتروكة ضمن الحد المستهدف ({target}).",
    "campaigns.priors": "عدد المكالمات حتى الآن قليل: يعتمد التوقّع على أرقام نموذجية أكثر من اعتماده على سجل هذه الحملة.",
  },
});

// -- diagnostics ---------------------------------------------------------------------------------------------

export async function loadDiagnostics(part) {
  let d;
  try {
    d = await api("GET", `/v1/campaigns/${part.id}/diagnostics`);
  } catch (error) {
    if (!part.stopped) replace(part.diagnostics, h("p", { class: "notice error", role: "alert" }, error.message));
    return;
  }
  if (part.stopped) return;
  renderDiagnostics(part, d);
}

function when(iso) {
  return iso ? fmtDateTime(iso) : "—";
}

function sentence(reason, d) {
  const x = reason.details || {};
  const mode = t(`campaigns.mode.${d.pacer?.mode || "progressive"}`).toLowerCase();
  switch (reason.code) {
    case "campaign_not_active":
      return t("campaigns.why.campaign_not_active", { status: t(`status.${x.status || d.status}`).toLowerCase() });
    case "no_worker":
      return x.worker_id ? t("campaigns.why.no_worker_stale") : t("campaigns.why.no_worker");
    case "switch_disconnected":
      return t("campaigns.why.switch_disconnected");
    case "no_agents_assigned":
      return t("campaigns.why.no_agents_assigned");
    case "no_agents_logged_in":
      return t("campaigns.why.no_agents_logged_in", { assigned: fmtNumber(x.assigned ?? d.agents.assigned) });
    case "no_agents_registered":
      return t("campaigns.why.no_agents_registered", {
        names: (x.agents || []).map((a) => (a.sip_user ? `${a.full_name} (${a.sip_user})` : a.full_name)).join(", "),
      });
    case "no_agents_available": {
      const text = t("campaigns.why.no_agents_available", { busy: fmtNumber(x.busy ?? d.agents.busy),
        away: fmtNumber(x.away ?? d.agents.away) });
      return reason.blocking ? text : `${text} ${t("campaigns.why.dialsAhead")}`;
    }
    case "list_exhausted":
      return d.lines_in_flight ? t("campaigns.why.list_exhausted_inflight", { count: fmtNumber(d.lines_in_flight) })
        : t("campaigns.why.list_exhausted");
    case "outside_calling_window":
      return t("campaigns.why.outside_calling_window", {
        openings: (x.jurisdictions || []).map((j) => `${j.jurisdiction ? regionName(j.jurisdiction)
          : t("campaigns.unknownPlace")}: ${j.opens_at ? fmtDateTime(j.opens_at) : t("campaigns.notWithin14")}`)
          .join("; "),
      });
    case "waiting_for_retries":
      return t("campaigns.why.waiting_for_retries", { count: fmtNumber(x.count), time: when(x.next_retry_at) });
    case "pacer_holding_back":
      return x.lines_in_flight ? t("campaigns.why.pacer_holding_back_inflight", { mode,
        count: fmtNumber(x.lines_in_flight) }) : t("campaigns.why.pacer_holding_back", { mode });
    case "blocked":
      return t("campaigns.why.blocked", {
        rules: (x.rules || []).map((r) => t("campaigns.ruleCount", {
          rule: t(`campaigns.rule.${r.rule}`) === `campaigns.rule.${r.rule}` ? r.rule : t(`campaigns.rule.${r.rule}`),
          count: fmtNumber(r.numbers),
        })).join(", "),
      });
    default:
      return reason.message;
  }
}

function reasonItem(reason, d) {
  return h("li", { "data-testid": "diagnostic-reason", "data-code": reason.code,
    "data-blocking": String(reason.blocking) },
  badge(reason.blocking ? t("campaigns.blocking") : t("campaigns.note"), reason.blocking ? "bad" : "info"), " ",
  h("span", {}, sentence(reason, d)),
  h("details", { class: "technical" }, h("summary", {}, t("campaigns.technical")),
    h("p", { lang: "en", dir: "ltr" }, reason.message)));
}

function renderDiagnostics(part, d) {
  const blocking = d.reasons.filter((r) => r.blocking);
  const notes = d.reasons.filter((r) => !r.blocking);
  const a = d.agents;
  const c = d.contacts;
  const factLines = [
    t("campaigns.factAgents", { ready: fmtNumber(a.ready), assigned: fmtNumber(a.assigned),
      logged_in: fmtNumber(a.logged_in), busy: fmtNumber(a.busy), away: fmtNumber(a.away) }),
    t("campaigns.factContacts", { dialable: fmtNumber(c.dialable_now), total: fmtNumber(c.total),
      remaining: fmtNumber(c.remaining) }),
    c.waiting_for_retry ? t("campaigns.factRetry", { count: fmtNumber(c.waiting_for_retry), time: when(c.next_retry_at) })
      : null,
    c.callbacks_scheduled ? t("campaigns.factCallbacks", { count: fmtNumber(c.callbacks_scheduled),
      time: when(c.next_callback_at) }) : null,
    c.held_for_preview ? t("campaigns.factPreview", { count: fmtNumber(c.held_for_preview) }) : null,
    t("campaigns.factLines", { count: fmtNumber(d.lines_in_flight) }),
    ...(c.calling_windows || []).map((w) => {
      const place = w.jurisdiction ? regionName(w.jurisdiction) : t("campaigns.unknownPlace");
      return w.open_now ? t("campaigns.factWindowOpen", { place, count: fmtNumber(w.contacts) })
        : t("campaigns.factWindowClosed", { place, count: fmtNumber(w.contacts),
          time: w.opens_at ? fmtDateTime(w.opens_at) : t("campaigns.notWithin14") });
    }),
    d.lease && d.lease.heartbeat_age_seconds !== null ? t("campaigns.factWorker", {
      host: d.lease.hostname || d.lease.worker_id, age: fmtNumber(d.lease.heartbeat_age_seconds, 1) }) : null,
  ].filter(Boolean);
  replace(part.diagnostics,
    h("div", { class: "toolbar" },
      h("span", { class: "muted" }, t("campaigns.asOf", { time: fmtDateTime(d.as_of) })),
      h("button", { type: "button", class: "secondary", "data-testid": "diagnostics-refresh",
        onclick: () => loadDiagnostics(part) }, t("action.refresh"))),
    h("p", { class: `notice ${d.dialing ? "ok" : "warn"}`, "data-testid": "diagnostics-headline",
      "data-dialing": String(d.dialing) },
    d.dialing ? t("campaigns.dialling", { lines: fmtNumber(d.lines_in_flight) }) : t("campaigns.notDialling")),
    blocking.length ? [h("p", { class: "strong" }, t("campaigns.because")),
      h("ul", { class: "reasons" }, blocking.map((r) => reasonItem(r, d)))] : null,
    notes.length ? [h("p", { class: "strong" }, t("campaigns.alsoNote")),
      h("ul", { class: "reasons" }, notes.map((r) => reasonItem(r, d)))] : null,
    h("ul", { class: "facts-list", "data-testid": "diagnostics-facts" }, factLines.map((line) => h("li", {}, line))));
}

// -- forecast ------------------------------------------------------------------------------------------------

export function renderForecast(part) {
  const c = part.campaign;
  if (c.dialing_mode === "preview") {
    replace(part.forecast, h("p", { class: "notice" }, t("campaigns.forecastPreview")));
    return;
  }
  const from = Math.max(1, part.assignedCount - 4);
  const to = Math.max(from + 6, part.assignedCount + 3);
  const status = h("p", { class: "muted", role: "status", "data-testid": "forecast-status" });
  const output = h("div", { "data-testid": "forecast-output" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "forecast-run" },
    t("campaigns.runForecast"));
  const form = h("form", { class: "stack", novalidate: true }, h("p", { class: "hint" }, t("campaigns.forecastHint")),
    formNotice(),
    h("div", { class: "toolbar" },
      field(t("campaigns.agentsFrom"), h("input", { name: "from", type: "number", min: 1, max: 500, value: from,
        required: true, "data-testid": "forecast-from" })),
      field(t("campaigns.agentsTo"), h("input", { name: "to", type: "number", min: 1, max: 500, value: to,
        required: true, "data-testid": "forecast-to" })),
      field(t("campaigns.hours"), h("input", { name: "hours", type: "number", min: 1, max: 24, step: 1, value: 8,
        "data-testid": "forecast-hours" })),
      submit),
    status);
  let run = 0;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearNotice(form);
    const v = formValues(form);
    const lo = Math.max(1, Math.min(500, Math.round(v.from || 1)));
    const hi = Math.max(1, Math.min(500, Math.round(v.to || lo)));
    const hours = Math.max(1, Math.min(24, v.hours || 8));
    if (hi < lo) {
      showProblem(form, { message: t("campaigns.forecastRange"), problem: {},
        fieldErrors: { to: t("campaigns.forecastRange") } });
      return;
    }
    const step = Math.max(1, Math.ceil((hi - lo) / (MAX_FORECAST_POINTS - 1)));
    const counts = [];
    for (let n = lo; n < hi; n += step) counts.push(n);
    counts.push(hi);
    run += 1;
    const mine = run;
    const points = [];
    submit.disabled = true;
    try {
      for (const agents of counts) {
        if (part.stopped || mine !== run) return;
        status.textContent = t("campaigns.forecasting", { done: points.length + 1, total: counts.length });
        try {
          points.push(await api("POST", `/v1/campaigns/${c.id}/forecast`, { body: { agents, hours } }));
        } catch (error) {
          showProblem(form, error);
          break;
        }
        if (part.stopped) return;
        drawForecast(output, points, { lo, hi, hours, target: c.abandon_rate_target });
      }
      if (points.length === counts.length) status.textContent = t("campaigns.forecastDone", { total: counts.length });
      else status.textContent = "";
    } finally {
      submit.disabled = false;
    }
  });
  replace(part.forecast, form, output);
}

function drawForecast(output, points, { lo, hi, hours, target }) {
  const sorted = [...points].sort((a, b) => a.agents - b.agents);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  const meets = sorted.find((p) => p.abandon_rate <= target);
  const verdict = meets ? t("campaigns.meetsTarget", { count: fmtNumber(meets.agents), target: fmtPercent(target) })
    : t("campaigns.missesTarget", { target: fmtPercent(target) });
  const label = `${t("campaigns.chartLabel", {
    from: fmtNumber(lo), to: fmtNumber(hi), hours: fmtNumber(hours),
    occFrom: fmtPercent(first.occupancy * 100, 0), occTo: fmtPercent(last.occupancy * 100, 0),
    abFrom: fmtPercent(first.abandon_rate), abTo: fmtPercent(last.abandon_rate),
  })} ${verdict}`;
  const chart = lineChart({
    series: [
      { key: "occupancy", label: t("campaigns.occupancy"), color: "#0b5c7a", marker: "circle",
        points: sorted.map((p) => ({ x: p.agents, y: p.occupancy * 100 })) },
      { key: "abandon", label: t("campaigns.abandonRate"), color: "#a4161a", dash: "7 4", marker: "square",
        points: sorted.map((p) => ({ x: p.agents, y: p.abandon_rate })) },
    ],
    refLines: [{ y: target, label: t("campaigns.target"), color: "#8a5300", dash: "2 4" }],
    xLabel: t("campaigns.agentCount"), yLabel: t("campaigns.percent"), yMax: 100, xDomain: [lo, hi],
    formatX: (x) => fmtNumber(x), formatY: (y) => fmtPercent(y, 0), label, testid: "forecast-chart",
  });
  const figures = table([
    { label: t("campaigns.agentCount"), class: "num", render: (p) => fmtNumber(p.agents) },
    { label: t("campaigns.occupancy"), class: "num", render: (p) => fmtPercent(p.occupancy * 100) },
    { label: t("campaigns.abandonRate"), class: "num", render: (p) => fmtPercent(p.abandon_rate) },
    { label: t("campaigns.connectsPerHour"), class: "num", render: (p) => fmtNumber(p.connects_per_hour, 1) },
    { label: t("campaigns.dialsPerHour"), class: "num", render: (p) => fmtNumber(p.dials_per_hour, 1) },
    { label: t("campaigns.exhaustedAt"), render: (p) => (p.list_exhausted_at ? fmtDateTime(p.list_exhausted_at)
      : t("campaigns.notInHorizon")) },
  ], sorted, { caption: t("campaigns.forecastFigures"), rowAttrs: () => ({ "data-testid": "forecast-row" }) });
  figures.classList.add("visually-hidden");
  figures.dataset.testid = "forecast-table";
  replace(output,
    last.estimates && last.estimates.priors_dominate ? h("p", { class: "notice warn" }, t("campaigns.priors")) : null,
    chart,
    h("p", { "data-testid": "forecast-verdict" }, verdict),
    figures);
}
