// Compliance (every role reads the rules; supervisors and admins look up the audit): the rule sets the engine
// enforces today, one card per jurisdiction (calling hours and days, Ramadan hours, public holidays, the national
// do-not-call registry, consent, repeat-call limits, and where each rule comes from), and a look-up of one audited
// decision by its reference (AUD-…): allowed or blocked, each check's outcome and the hash chain that makes the
// audit log tamper-evident. Fields the console does not know yet are still shown, as plain key/value pairs.

import { api } from "../../api.js";
import { badge, field, h, replace, section, showProblem, table } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, lang, locale, t } from "../../i18n.js";
import { busy, clearNotice, facts, formNotice, pageHead, regionName, showLoadError } from "./shared.js";

extend({
  en: {
    "compliance.title": "Compliance",
    "compliance.rules": "Rules in effect",
    "compliance.rulesIntro": "Before every call the compliance engine checks these rules for the country of the number dialled. A call that fails any check is not placed.",
    "compliance.default": "Everywhere else (default rules)",
    "compliance.confirmed": "Confirmed from the regulator’s text",
    "compliance.unconfirmed": "Conservative default, not yet confirmed",
    "compliance.version": "Rule version",
    "compliance.effective": "In effect since",
    "compliance.timezone": "Time zone",
    "compliance.hours": "Calling hours",
    "compliance.days": "Calling days",
    "compliance.weekend": "Weekend (no calls)",
    "compliance.everyDay": "Every day",
    "compliance.noWeekend": "None",
    "compliance.ramadan": "During Ramadan",
    "compliance.noRamadan": "The usual hours apply",
    "compliance.holidays": "Public holidays",
    "compliance.holidaysBlocked": "No calls ({country} calendar)",
    "compliance.holidaysBlockedAny": "No calls on public holidays",
    "compliance.holidaysAllowed": "Calls allowed",
    "compliance.registry": "Do-not-call registry",
    "compliance.registryBlocks": "While it is not loaded, calls to this country are blocked.",
    "compliance.registryOpen": "While it is not loaded, calls are not held back by it.",
    "compliance.consent": "Prior consent",
    "compliance.consentRequired": "Required for {scope} calls",
    "compliance.consentNotRequired": "Not required for {scope} calls",
    "compliance.scope.marketing": "marketing",
    "compliance.scope.service": "service",
    "compliance.cap": "Repeat-call limit",
    "compliance.noCap": "No limit beyond your campaign’s own attempts",
    "compliance.capText": "Unanswered numbers: up to {day} calls per day and {week} per week.",
    "compliance.finalDispositions": "No more calls after: {list}.",
    "compliance.sources": "Sources",
    "compliance.other": "Other settings",
    "compliance.noRules": "No rule sets are loaded.",
    "compliance.audit": "Look up an audited decision",
    "compliance.auditIntro": "Every compliance decision gets a reference such as AUD-9921847. Enter one to see what was decided and why.",
    "compliance.auditRef": "Audit reference",
    "compliance.lookup": "Look up",
    "compliance.allowed": "Allowed: the call could be placed.",
    "compliance.blocked": "Blocked: {reason}",
    "compliance.decision": "Decision",
    "compliance.decidedAt": "Decided",
    "compliance.channel": "Asked by",
    "compliance.channel.api": "An API request",
    "compliance.channel.dialer": "The automatic dialler",
    "compliance.channel.originate": "A manual call",
    "compliance.channel.preview": "A preview call",
    "compliance.actor": "User",
    "compliance.phone": "Phone number",
    "compliance.jurisdiction": "Country",
    "compliance.campaign": "Campaign",
    "compliance.blockingRule": "Blocking rule",
    "compliance.checks": "Checks",
    "compliance.check": "Check",
    "compliance.outcome": "Outcome",
    "compliance.reason": "Details",
    "compliance.outcome.passed": "Passed",
    "compliance.outcome.failed": "Failed",
    "compliance.outcome.skipped": "Skipped",
    "compliance.check.calling_hours": "Calling hours",
    "compliance.check.dnc_national": "National do-not-call registry",
    "compliance.check.dnc_tenant": "Your do-not-call list",
    "compliance.check.consent": "Consent",
    "compliance.check.cli_ownership": "Caller ID ownership",
    "compliance.check.frequency_cap": "Repeat-call limit",
    "compliance.check.compliance_error": "Compliance check error",
    "compliance.request": "What was asked",
    "compliance.chain": "Audit chain",
    "compliance.chainIntro": "Each decision’s fingerprint (SHA-256) covers the previous one’s, so changing or removing an earlier record breaks the chain.",
    "compliance.hash": "Fingerprint",
    "compliance.prevHash": "Previous fingerprint",
    "compliance.firstInChain": "None: this is the first record of the chain.",
    "compliance.disposition.refused": "the person refuses",
    "compliance.disposition.do_not_call": "the person asks not to be called",
  },
  ar: {
    "compliance.title": "الامتثال",
    "compliance.rules": "القواعد السارية",
    "compliance.rulesIntro": "قبل كل مكالمة يتحقق محرك الامتثال من هذه القواعد وفق بلد الرقم المطلوب. ولا تُجرى أي مكالمة لا تجتاز الفحوص كلها.",
    "compliance.default": "بقية البلدان (القواعد الافتراضية)",
    "compliance.confirmed": "مؤكدة من نص الجهة التنظيمية",
    "compliance.unconfirmed": "قاعدة احتياطية افتراضية، لم تتأكد بعد",
    "compliance.version": "إصدار القواعد",
    "compliance.effective": "سارية منذ",
    "compliance.timezone": "المنطقة الزمنية",
    "compliance.hours": "أوقات الاتصال",
    "compliance.days": "أيام الاتصال",
    "compliance.weekend": "عطلة نهاية الأسبوع (بلا اتصال)",
    "compliance.everyDay": "كل الأيام",
    "compliance.noWeekend": "لا يوجد",
    "compliance.ramadan": "خلال شهر رمضان",
    "compliance.noRamadan": "تسري الأوقات المعتادة",
    "compliance.holidays": "العطل الرسمية",
    "compliance.holidaysBlocked": "لا اتصال (تقويم {country})",
    "compliance.holidaysBlockedAny": "لا اتصال في العطل الرسمية",
    "compliance.holidaysAllowed": "الاتصال مسموح",
    "compliance.registry": "سجل عدم الاتصال",
    "compliance.registryBlocks": "ما دام السجل غير محمّل، تُحظر المكالمات إلى هذا البلد.",
    "compliance.registryOpen": "ما دام السجل غير محمّل، لا يمنع المكالمات.",
    "compliance.consent": "الموافقة المسبقة",
    "compliance.consentRequired": "مطلوبة للمكالمات {scope}",
    "compliance.consentNotRequired": "غير مطلوبة للمكالمات {scope}",
    "compliance.scope.marketing": "التسويقية",
    "compliance.scope.service": "الخدمية",
    "compliance.cap": "حد تكرار الاتصال",
    "compliance.noCap": "لا حد سوى عدد محاولات الحملة نفسها",
    "compliance.capText": "يُتصل بالرقم الذي لا يرد {day} مرة يومياً و{week} مرة أسبوعياً كحد أقصى.",
    "compliance.finalDispositions": "لا مزيد من المكالمات بعد: {list}.",
    "compliance.sources": "المصادر",
    "compliance.other": "إعدادات أخرى",
    "compliance.noRules": "لا توجد مجموعات قواعد محمّلة.",
    "compliance.audit": "البحث عن قرار مُدقَّق",
    "compliance.auditIntro": "لكل قرار امتثال مرجع مثل AUD-9921847. أدخله لمعرفة القرار وأسبابه.",
    "compliance.auditRef": "مرجع التدقيق",
    "compliance.lookup": "بحث",
    "compliance.allowed": "مسموح: يمكن إجراء المكالمة.",
    "compliance.blocked": "محظور: {reason}",
    "compliance.decision": "القرار",
    "compliance.decidedAt": "وقت القرار",
    "compliance.channel": "مصدر الطلب",
    "compliance.channel.api": "طلب عبر واجهة البرمجة",
    "compliance.channel.dialer": "الطلب الآلي",
    "compliance.channel.originate": "مكالمة يدوية",
    "compliance.channel.preview": "مكالمة معاينة",
    "compliance.actor": "المستخدم",
    "compliance.phone": "رقم الهاتف",
    "compliance.jurisdiction": "البلد",
    "compliance.campaign": "الحملة",
    "compliance.blockingRule": "القاعدة المانعة",
    "compliance.checks": "الفحوص",
    "compliance.check": "الفحص",
    "compliance.outcome": "النتيجة",
    "compliance.reason": "التفاصيل",
    "compliance.outcome.passed": "ناجح",
    "compliance.outcome.failed": "مخفق",
    "compliance.outcome.skipped": "لم يُجرَ",
    "compliance.check.calling_hours": "أوقات الاتصال",
    "compliance.check.dnc_national": "السجل الوطني لعدم الاتصال",
    "compliance.check.dnc_tenant": "قائمة عدم الاتصال الخاصة بكم",
    "compliance.check.consent": "الموافقة",
    "compliance.check.cli_ownership": "ملكية رقم المتصل",
    "compliance.check.frequency_cap": "حد تكرار الاتصال",
    "compliance.check.compliance_error": "خطأ في فحص الامتثال",
    "compliance.request": "ما طُلب فحصه",
    "compliance.chain": "سلسلة التدقيق",
    "compliance.chainIntro": "تشمل بصمة كل قرار (SHA-256) بصمة القرار السابق، لذا فإن أي تعديل أو حذف لسجل سابق يكسر السلسلة.",
    "compliance.hash": "البصمة",
    "compliance.prevHash": "البصمة السابقة",
    "compliance.firstInChain": "لا يوجد: هذا أول سجل في السلسلة.",
    "compliance.disposition.refused": "رفض الشخص",
    "compliance.disposition.do_not_call": "طلب الشخص عدم الاتصال به",
  },
});

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const KNOWN = new Set(["jurisdiction", "rule_version", "effective_from", "confirmed", "source", "timezone",
  "calling_hours", "ramadan", "holidays", "registry", "consent", "frequency_cap"]);
const OUTCOME_KIND = { passed: "ok", failed: "bad", skipped: "" };

function known(prefix, value) {
  const key = `${prefix}.${value}`;
  const text = t(key);
  return text === key ? value : text;
}

function dayName(code) {
  const i = DAYS.indexOf(code);
  if (i < 0) return code;
  // 7 January 2024 was a Sunday.
  return new Intl.DateTimeFormat(locale(), { weekday: "long", timeZone: "UTC" }).format(new Date(Date.UTC(2024, 0, 7 + i)));
}

function list(items) {
  try {
    return new Intl.ListFormat(lang(), { style: "long", type: "conjunction" }).format(items);
  } catch {
    return items.join(", ");
  }
}

function fmtDate(date) {
  if (!date) return "—";
  const d = new Date(`${String(date).slice(0, 10)}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(date)
    : new Intl.DateTimeFormat(locale(), { dateStyle: "long", timeZone: "UTC" }).format(d);
}

function windows(ws) {
  return (ws || []).map((w) => h("span", { dir: "ltr", class: "nowrap" }, `${w.start}–${w.end}`))
    .flatMap((el, i) => (i ? [", ", el] : [el]));
}

// Any value as readable text: objects as nested definition lists, arrays as lists.
function generic(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.every((v) => typeof v !== "object") ? value.join(", ")
    : h("ul", { class: "plain-list" }, value.map((v) => h("li", {}, generic(v))));
  if (typeof value === "object") return facts(Object.entries(value).map(([k, v]) => [k, generic(v)]));
  if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
  return String(value);
}

function ruleCard(rule) {
  const place = rule.jurisdiction === "*" ? t("compliance.default")
    : `${regionName(rule.jurisdiction)} (${rule.jurisdiction})`;
  const hours = rule.calling_hours || {};
  const days = hours.days || [];
  const weekend = hours.weekend || [];
  const cap = rule.frequency_cap;
  const sources = [
    [t("compliance.version"), rule.source],
    [t("compliance.hours"), hours.source],
    [t("compliance.ramadan"), rule.ramadan && rule.ramadan.source],
    [t("compliance.holidays"), rule.holidays && rule.holidays.source],
    [t("compliance.registry"), rule.registry && rule.registry.source],
    [t("compliance.consent"), rule.consent && rule.consent.source],
    [t("compliance.cap"), cap && cap.source],
  ].filter(([, s]) => s);
  const extra = Object.entries(rule).filter(([k]) => !KNOWN.has(k));
  const id = `rule-${rule.jurisdiction === "*" ? "default" : rule.jurisdiction}`;
  return h("article", { class: "panel rule-card", "aria-labelledby": id, "data-testid": "rule-set",
    "data-jurisdiction": rule.jurisdiction },
  h("h3", { id }, place),
  h("p", {}, rule.confirmed ? badge(t("compliance.confirmed"), "ok") : badge(t("compliance.unconfirmed"), "warn")),
  facts([
    [t("compliance.hours"), windows(hours.windows)],
    [t("compliance.days"), days.length === 7 ? t("compliance.everyDay") : list(days.map(dayName))],
    [t("compliance.weekend"), weekend.length ? list(weekend.map(dayName)) : t("compliance.noWeekend")],
    [t("compliance.ramadan"), rule.ramadan ? windows(rule.ramadan.windows) : t("compliance.noRamadan")],
    [t("compliance.holidays"), rule.holidays ? (rule.holidays.calls_allowed ? t("compliance.holidaysAllowed")
      : rule.holidays.country ? t("compliance.holidaysBlocked", { country: regionName(rule.holidays.country) })
        : t("compliance.holidaysBlockedAny")) : "—"],
    [t("compliance.registry"), rule.registry ? [h("span", { lang: "en", dir: "ltr" }, rule.registry.name), h("br"),
      h("small", {}, rule.registry.blocks_when_not_loaded ? t("compliance.registryBlocks")
        : t("compliance.registryOpen"))] : "—"],
    [t("compliance.consent"), rule.consent ? t(rule.consent.required ? "compliance.consentRequired"
      : "compliance.consentNotRequired", { scope: known("compliance.scope", rule.consent.scope || "marketing") }) : "—"],
    [t("compliance.cap"), cap ? [t("compliance.capText", { day: fmtNumber(cap.unanswered_per_day),
      week: fmtNumber(cap.unanswered_per_week) }),
    cap.final_dispositions && cap.final_dispositions.length ? [" ", t("compliance.finalDispositions",
      { list: list(cap.final_dispositions.map((d) => {
        const text = known("compliance.disposition", d);
        return text === d ? d.replace(/_/g, " ") : text;
      })) })] : null] : t("compliance.noCap")],
    [t("compliance.timezone"), rule.timezone ? h("span", { dir: "ltr" }, rule.timezone) : "—"],
    [t("compliance.version"), h("span", { dir: "ltr" }, rule.rule_version)],
    [t("compliance.effective"), fmtDate(rule.effective_from)],
    ...extra.map(([k, v]) => [k, generic(v)]),
  ]),
  sources.length ? h("details", { class: "more" }, h("summary", {}, t("compliance.sources")),
    h("dl", { class: "facts sources" }, sources.map(([label, text]) => [h("dt", {}, label),
      h("dd", { lang: "en", dir: "ltr" }, text)]))) : null);
}

export function mount(main, ctx) {
  const role = ctx.session.user.role;
  let closed = false;
  const rulesEl = h("div", { class: "grid rules-grid", "data-testid": "compliance-rules" });
  const auditResult = h("div", { "data-testid": "audit-result-region", "aria-live": "polite" });

  async function loadRules() {
    try {
      const answer = await api("GET", "/v1/compliance/rules");
      if (closed) return;
      const items = [...(answer.items || [])].sort((a, b) => (a.jurisdiction === "*") - (b.jurisdiction === "*")
        || regionName(a.jurisdiction).localeCompare(regionName(b.jurisdiction)));
      replace(rulesEl, items.length ? items.map(ruleCard) : h("p", { class: "muted" }, t("compliance.noRules")));
    } catch (error) {
      if (closed) return;
      showLoadError(rulesEl, error, () => loadRules());
    }
  }

  function auditForm() {
    const input = h("input", { name: "audit_ref", required: true, dir: "ltr", autocomplete: "off", spellcheck: "false",
      placeholder: "AUD-…", "data-testid": "audit-ref" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "audit-lookup" },
      t("compliance.lookup"));
    const form = h("form", { class: "stack", novalidate: true, "data-testid": "audit-form" },
      h("p", { class: "muted" }, t("compliance.auditIntro")),
      formNotice(),
      h("div", { class: "toolbar" }, field(t("compliance.auditRef"), input), submit));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearNotice(form);
      const ref = input.value.trim();
      if (!ref) {
        input.focus();
        return;
      }
      replace(auditResult);
      try {
        const record = await busy(submit, () => api("GET", `/v1/compliance/audit/${encodeURIComponent(ref)}`));
        if (closed) return;
        renderAudit(record);
      } catch (error) {
        showProblem(form, error);
      }
    });
    return form;
  }

  async function campaignName(id) {
    try {
      return (await api("GET", `/v1/campaigns/${id}`)).name;
    } catch {
      return null;
    }
  }

  async function actorName(id) {
    if (role !== "admin") return null;
    try {
      return (await api("GET", `/v1/users/${id}`)).full_name;
    } catch {
      return null;
    }
  }

  async function renderAudit(r) {
    const campaignEl = h("span", {}, r.campaign_id ? h("code", { dir: "ltr" }, r.campaign_id) : "—");
    const actorEl = h("span", {}, r.actor_user_id ? h("code", { dir: "ltr" }, r.actor_user_id) : "—");
    const checks = Object.entries(r.checks || {}).map(([name, value]) => ({
      name, outcome: value && typeof value === "object" ? value.outcome : value,
      reason: value && typeof value === "object" ? value.reason : null,
    }));
    replace(auditResult, h("article", { class: "audit-record", "data-testid": "audit-result",
      "data-allowed": String(r.allowed) },
    h("h3", {}, t("compliance.decision"), " ", h("span", { dir: "ltr" }, r.audit_ref)),
    h("p", { class: `notice ${r.allowed ? "ok" : "error"}`, "data-testid": "audit-decision" },
      r.allowed ? t("compliance.allowed") : t("compliance.blocked", {
        reason: r.blocking_reason || known("compliance.check", r.blocking_rule || "") })),
    facts([
      [t("compliance.decidedAt"), fmtDateTime(r.decided_at)],
      [t("compliance.channel"), known("compliance.channel", r.channel)],
      [t("compliance.actor"), actorEl],
      [t("compliance.phone"), h("span", { class: "phone" }, r.phone)],
      [t("compliance.jurisdiction"), r.jurisdiction ? `${regionName(r.jurisdiction)} (${r.jurisdiction})` : "—"],
      [t("compliance.version"), r.rule_version ? h("span", { dir: "ltr" }, r.rule_version) : "—"],
      [t("compliance.campaign"), campaignEl],
      r.blocking_rule ? [t("compliance.blockingRule"), known("compliance.check", r.blocking_rule)] : null,
    ]),
    table([
      { label: t("compliance.check"), render: (c) => known("compliance.check", c.name) },
      { label: t("compliance.outcome"), render: (c) => badge(known("compliance.outcome", c.outcome),
        OUTCOME_KIND[c.outcome] ?? "") },
      { label: t("compliance.reason"), render: (c) => (c.reason ? h("span", { lang: "en", dir: "auto" }, c.reason) : "—") },
    ], checks, { caption: t("compliance.checks"), rowAttrs: (c) => ({ "data-testid": "audit-check", "data-check": c.name,
      "data-outcome": c.outcome }) }),
    h("h4", {}, t("compliance.request")),
    generic(r.request),
    h("h4", {}, t("compliance.chain")),
    h("p", { class: "muted" }, t("compliance.chainIntro")),
    facts([
      [t("compliance.hash"), h("code", { class: "hash", dir: "ltr", "data-testid": "audit-hash" }, r.hash)],
      [t("compliance.prevHash"), r.prev_hash ? h("code", { class: "hash", dir: "ltr", "data-testid": "audit-prev-hash" },
        r.prev_hash) : t("compliance.firstInChain")],
    ])));
    if (r.campaign_id) {
      const name = await campaignName(r.campaign_id);
      if (name) replace(campaignEl, name);
    }
    if (r.actor_user_id) {
      const name = await actorName(r.actor_user_id);
      if (name) replace(actorEl, name);
    }
  }

  replace(main,
    pageHead(t("compliance.title")),
    role === "agent" ? null : section(t("compliance.audit"), auditForm(), auditResult),
    section(t("compliance.rules"), h("p", { class: "muted" }, t("compliance.rulesIntro")), rulesEl));
  loadRules();
  return () => {
    closed = true;
  };
}
