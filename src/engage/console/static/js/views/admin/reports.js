// Reports (every role; an agent only their own call detail and performance — the API answers 403
// report-not-allowed otherwise, and its explanation is shown): choose a report, a format, the days (in the
// organisation's zone) and optionally a campaign; POST /v1/reports/export. A small report comes back inline and is
// saved as a file straight away (CSV text, JSON rows, or a base64 PDF); a large one comes back as a download link
// valid for a limited time.

import { all, api } from "../../api.js";
import { download, field, formValues, h, replace, section, showProblem } from "../../dom.js";
import { extend, fmtDateTime, fmtNumber, t } from "../../i18n.js";
import { busy, clearNotice, dayEnd, dayStart, formNotice, option, pageHead, shiftDate, todayInZone } from "./shared.js";

extend({
  en: {
    "reports.title": "Reports",
    "reports.export": "Export a report",
    "reports.type": "Report",
    "reports.type.call_detail": "Call detail (one row per call)",
    "reports.type.campaign_summary": "Campaign summary",
    "reports.type.agent_performance": "Agent performance",
    "reports.type.disposition_summary": "Disposition summary",
    "reports.agentHint": "As an agent you can export the call detail and agent performance of your own calls.",
    "reports.format": "Format",
    "reports.format.csv": "CSV (spreadsheet)",
    "reports.format.json": "JSON (for other systems)",
    "reports.format.pdf": "PDF (to print or share)",
    "reports.from": "From",
    "reports.to": "To",
    "reports.datesHint": "Whole days, on your organisation’s clock; at most 366 days.",
    "reports.campaign": "Campaign",
    "reports.allCampaigns": "All campaigns",
    "reports.bom": "Open correctly in Excel (adds a UTF-8 byte-order mark, so Arabic names display properly)",
    "reports.submit": "Export",
    "reports.badRange": "The start must not be after the end.",
    "reports.ready": "{rows} rows exported to {file}.",
    "reports.again": "Download again",
    "reports.large": "This report is large ({rows} rows), so it is ready as a separate download.",
    "reports.link": "Download the report",
    "reports.linkExpires": "The link works until {time}.",
  },
  ar: {
    "reports.title": "التقارير",
    "reports.export": "تصدير تقرير",
    "reports.type": "التقرير",
    "reports.type.call_detail": "تفاصيل المكالمات (صف لكل مكالمة)",
    "reports.type.campaign_summary": "ملخص الحملات",
    "reports.type.agent_performance": "أداء الموظفين",
    "reports.type.disposition_summary": "ملخص نتائج المكالمات",
    "reports.agentHint": "بصفتك موظفاً يمكنك تصدير تفاصيل مكالماتك وتقرير أدائك فقط.",
    "reports.format": "الصيغة",
    "reports.format.csv": "CSV (جدول بيانات)",
    "reports.format.json": "JSON (للأنظمة الأخرى)",
    "reports.format.pdf": "PDF (للطباعة أو المشاركة)",
    "reports.from": "من تاريخ",
    "reports.to": "إلى تاريخ",
    "reports.datesHint": "أيام كاملة بتوقيت مؤسستكم؛ 366 يوماً كحد أقصى.",
    "reports.campaign": "الحملة",
    "reports.allCampaigns": "كل الحملات",
    "reports.bom": "الفتح بشكل صحيح في Excel (يضيف علامة ترتيب البايت UTF-8 لتظهر الأسماء العربية سليمة)",
    "reports.submit": "تصدير",
    "reports.badRange": "يجب ألا يكون تاريخ البداية بعد تاريخ النهاية.",
    "reports.ready": "تم التصدير إلى الملف {file} (عدد الصفوف: {rows}).",
    "reports.again": "تنزيل مرة أخرى",
    "reports.large": "هذا التقرير كبير (عدد الصفوف: {rows})، لذا جُهّز للتنزيل بشكل منفصل.",
    "reports.link": "تنزيل التقرير",
    "reports.linkExpires": "يعمل الرابط حتى {time}.",
  },
});

const TYPES = ["call_detail", "campaign_summary", "agent_performance", "disposition_summary"];
const FORMATS = ["csv", "json", "pdf"];
const MIME = { csv: "text/csv;charset=utf-8", json: "application/json", pdf: "application/pdf" };

function base64Bytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// The inline answer as a file: CSV text as it came (with its byte-order mark if asked), JSON rows pretty-printed,
// a PDF from base64.
export function reportBlob(format, data) {
  if (format === "pdf") return new Blob([base64Bytes(data)], { type: MIME.pdf });
  if (format === "json") return new Blob([typeof data === "string" ? data : JSON.stringify(data, null, 2)],
    { type: MIME.json });
  return new Blob([data], { type: MIME.csv });
}

export function mount(main, ctx) {
  const role = ctx.session.user.role;
  let closed = false;
  const today = todayInZone();
  const result = h("div", { "data-testid": "report-result-region", "aria-live": "polite" });
  const campaignSelect = h("select", { name: "campaign_id", "data-testid": "report-campaign" },
    option("", t("reports.allCampaigns")));
  const formatSelect = h("select", { name: "format", "data-testid": "report-format" },
    FORMATS.map((f) => option(f, t(`reports.format.${f}`), f === "csv")));
  const bom = h("label", { class: "check" },
    h("input", { type: "checkbox", name: "csv_bom", "data-testid": "report-bom" }), h("span", {}, t("reports.bom")));
  const syncFormat = () => {
    const csv = formatSelect.value === "csv";
    bom.hidden = !csv;
    bom.querySelector("input").disabled = !csv;
  };
  formatSelect.addEventListener("change", syncFormat);
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "report-export" }, t("reports.submit"));
  const form = h("form", { class: "stack admin-form", novalidate: true, "data-testid": "report-form" },
    formNotice(),
    field(t("reports.type"), h("select", { name: "report_type", "data-testid": "report-type" },
      TYPES.map((type) => option(type, t(`reports.type.${type}`), type === "call_detail"))),
    role === "agent" ? t("reports.agentHint") : null),
    field(t("reports.format"), formatSelect),
    bom,
    h("div", { class: "cols-2" },
      field(t("reports.from"), h("input", { name: "from", type: "date", required: true, value: shiftDate(today, -6),
        max: today, "data-testid": "report-from" })),
      field(t("reports.to"), h("input", { name: "to", type: "date", required: true, value: today,
        "data-testid": "report-to" }))),
    h("p", { class: "hint" }, t("reports.datesHint")),
    field(t("reports.campaign"), campaignSelect),
    h("div", { class: "actions" }, submit));
  syncFormat();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearNotice(form);
    replace(result);
    const v = formValues(form);
    if (!v.from || !v.to || v.from > v.to) {
      const message = t("reports.badRange");
      showProblem(form, { message, problem: {}, fieldErrors: { [v.from ? "to" : "from"]: message } });
      return;
    }
    const body = {
      report_type: v.report_type, format: v.format, from: dayStart(v.from), to: dayEnd(v.to),
      campaign_id: v.campaign_id || null,
    };
    if (v.format === "csv") body.csv_bom = Boolean(v.csv_bom);
    try {
      const answer = await busy(submit, () => api("POST", "/v1/reports/export", { body }));
      if (closed) return;
      if (answer.download_url) {
        replace(result, h("div", { class: "notice ok", "data-testid": "report-result", "data-kind": "link" },
          h("p", {}, t("reports.large", { rows: fmtNumber(answer.rows) })),
          h("p", {}, h("a", { class: "button primary", href: answer.download_url, rel: "noopener noreferrer",
            download: "", "data-testid": "report-download-link" }, t("reports.link"))),
          h("p", { class: "muted" }, t("reports.linkExpires", { time: fmtDateTime(answer.expires_at) }))));
        return;
      }
      const file = `engage-${answer.report_type}-${v.from}-${v.to}.${answer.format}`;
      const blob = reportBlob(answer.format, answer.data);
      download(blob, file);
      replace(result, h("div", { class: "notice ok", "data-testid": "report-result", "data-kind": "inline",
        "data-rows": String(answer.rows) },
      h("p", {}, t("reports.ready", { rows: fmtNumber(answer.rows), file })),
      h("button", { type: "button", class: "secondary", "data-testid": "report-download-again",
        onclick: () => download(blob, file) }, t("reports.again"))));
    } catch (error) {
      showProblem(form, error);
    }
  });

  replace(main, pageHead(t("reports.title")), section(t("reports.export"), form, result));

  all("/v1/campaigns", { limit: 100 }, 1000).then((campaigns) => {
    if (closed) return;
    campaigns.sort((a, b) => a.name.localeCompare(b.name));
    campaignSelect.append(...campaigns.map((c) => option(c.id, c.name)));
  }).catch(() => {
    // Without the list the report covers every campaign (the filter stays at "All campaigns").
  });
  return () => {
    closed = true;
  };
}
