// The helpdesk reports page: a period's figures for the whole helpdesk or one group, as charts
// and tables. Every operation it sends is one of the .graphql documents beside this file (the
// same documents the test suite runs against a real server). Charts: Chart.js, vendored.
import { chooseLanguage, listenForLanguage, loadDocuments, loginHandler, readSession, requester, showLanguage, translator } from "../shared/graphql-page.js";
import "./vendor/chart.umd.min.js"; // a UMD bundle: it defines globalThis.Chart

const { Chart } = globalThis;

const DOCUMENT_FILES = { login: "Login.graphql", groups: "Groups.graphql", report: "Report.graphql" };
const SESSION_KEY = "helpdesk.reports.session";
const LANGUAGE_KEY = "helpdesk.reports.language";
const DAY_MS = 86_400_000;
const COLORS = { created: "#2563eb", resolved: "#16a34a", firstResponse: "#0891b2", resolution: "#7c3aed", rate: "#ea580c" };

const LABELS = {
  en: {
    title: "Helpdesk reports", logout: "Sign out", signIn: "Sign in", email: "Email", password: "Password",
    loginFailed: "Sign-in failed", from: "From", to: "To (inclusive)", last7: "Last 7 days", last30: "Last 30 days",
    group: "Group", wholeHelpdesk: "Whole helpdesk", timezone: "Time zone", show: "Show",
    loading: "Loading…", forbidden: "Reports are for supervisors and admins.", badRange: "The start must not be after the end.",
    shown: (from, to, zone) => `${from} – ${to} (${zone})`,
    ticketsCreated: "Tickets created", ticketsResolved: "Resolved", reopenRate: "Reopened",
    slaComplianceRate: "SLA met on time", slaBreaches: "SLA breaches", csatAverage: "CSAT average",
    csatPositiveRate: "CSAT 4–5 ★", articleHelpfulRate: "Articles helpful", selfServiceRate: "Self-service",
    responses: (n) => `${n} rating${n === 1 ? "" : "s"}`,
    volume: "Tickets per day", created: "Created", resolved: "Resolved",
    durations: "Response and resolution times", firstResponse: "First response", resolution: "Resolution",
    tickets: "Tickets", average: "Average", median: "Median", p90: "90th percentile",
    slaAndCsat: "SLA and satisfaction", byChannel: "By channel", byCategory: "By category", byAgent: "Per agent",
    channel: "Channel", category: "Category", share: "Share", noCategory: "(none)", agent: "Agent", assigned: "Assigned",
    firstResponseAvg: "First response, avg", firstResponseMedian: "First response, median",
    resolutionAvg: "Resolution, avg", resolutionMedian: "Resolution, median",
    dailyTable: "Tickets per day (table)", date: "Date", nothing: "No tickets in this period.",
    EMAIL: "Email", PHONE: "Phone", WEB_FORM: "Web form", CHAT: "Chat", SOCIAL: "Social", APP: "App", API: "API",
    duration: (d, h, m, s) => (d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`),
    locale: "en-GB",
  },
  zh: {
    title: "客服报表", logout: "退出", signIn: "登录", email: "邮箱", password: "密码",
    loginFailed: "登录失败", from: "开始日期", to: "结束日期（含）", last7: "最近 7 天", last30: "最近 30 天",
    group: "小组", wholeHelpdesk: "全部客服", timezone: "时区", show: "查询",
    loading: "加载中…", forbidden: "报表仅限主管和管理员查看。", badRange: "开始日期不能晚于结束日期。",
    shown: (from, to, zone) => `${from} 至 ${to}（${zone}）`,
    ticketsCreated: "新建工单", ticketsResolved: "已解决", reopenRate: "重新打开率",
    slaComplianceRate: "SLA 达标率", slaBreaches: "SLA 超时", csatAverage: "满意度均分",
    csatPositiveRate: "满意度 4–5 星", articleHelpfulRate: "文章有用率", selfServiceRate: "自助解决率",
    responses: (n) => `${n} 份评价`,
    volume: "每日工单量", created: "新建", resolved: "解决",
    durations: "响应与解决时长", firstResponse: "首次响应", resolution: "解决",
    tickets: "工单数", average: "平均", median: "中位数", p90: "90 分位",
    slaAndCsat: "SLA 与满意度", byChannel: "按渠道", byCategory: "按分类", byAgent: "按客服",
    channel: "渠道", category: "分类", share: "占比", noCategory: "（无分类）", agent: "客服", assigned: "分配",
    firstResponseAvg: "首次响应（平均）", firstResponseMedian: "首次响应（中位数）",
    resolutionAvg: "解决（平均）", resolutionMedian: "解决（中位数）",
    dailyTable: "每日工单量（表格）", date: "日期", nothing: "该时段没有工单。",
    EMAIL: "邮件", PHONE: "电话", WEB_FORM: "网页表单", CHAT: "在线聊天", SOCIAL: "社交媒体", APP: "App", API: "API",
    duration: (d, h, m, s) => (d ? `${d}天${h}小时` : h ? `${h}小时${m}分` : m ? `${m}分${s}秒` : `${s}秒`),
    locale: "zh-CN",
  },
};

const $ = (selector) => document.querySelector(selector);
const state = {
  language: chooseLanguage(LANGUAGE_KEY, LABELS),
  session: readSession(SESSION_KEY), // {token, agent}
  documents: {},
  report: null,
  forbidden: false, // the server said this caller may not read reports: the message, no form or figures
  period: null, // {from, to}: the dates the shown report was asked for
  charts: {},
};

const t = translator(LABELS, () => state.language);
// Started at once; the first request waits for it.
const documentsLoaded = loadDocuments(DOCUMENT_FILES, import.meta.url);
const request = requester(documentsLoaded, () => state.session?.token);

// ---------------------------------------------------------------- signing in and out

const signIn = loginHandler({
  request,
  sessionKey: SESSION_KEY,
  errorElement: $("#login-error"),
  t,
  open: async (session) => {
    state.session = session;
    await openReports();
  },
});

function signOut() {
  state.session = null;
  state.report = null;
  state.forbidden = false;
  sessionStorage.removeItem(SESSION_KEY);
  render();
}

// ---------------------------------------------------------------- the period form

// Dates are the browser's calendar dates (YYYY-MM-DD); the report reads them in the chosen zone.
const isoDate = (date) =>
  `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;

function nextDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d) + DAY_MS).toISOString().slice(0, 10);
}

function setLastDays(days) {
  const today = new Date();
  $("#to").value = isoDate(today);
  $("#from").value = isoDate(new Date(today.getFullYear(), today.getMonth(), today.getDate() - (days - 1)));
}

function fillPeriodForm() {
  // A shared link (?from=&to=&group=&tz=) opens the same report; otherwise the last 7 days here.
  const query = new URLSearchParams(location.search);
  setLastDays(7);
  if (query.get("from")) $("#from").value = query.get("from");
  if (query.get("to")) $("#to").value = query.get("to");
  $("#timezone").value = query.get("tz") || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("#group").dataset.wanted = query.get("group") ?? "";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("#timezones").replaceChildren(...zones.map((zone) => new Option(zone)));
}

async function openReports() {
  render();
  const select = $("#group");
  try {
    const { groups } = await request("groups");
    select.replaceChildren(new Option(t("wholeHelpdesk"), ""), ...groups.map((g) => new Option(g.name, g.id)));
    select.value = groups.some((g) => g.id === select.dataset.wanted) ? select.dataset.wanted : "";
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return signOut();
    select.replaceChildren(new Option(t("wholeHelpdesk"), ""));
  }
  await runReport();
}

async function runReport(event) {
  event?.preventDefault();
  const from = $("#from").value;
  const to = $("#to").value;
  const timezone = $("#timezone").value.trim();
  const groupId = $("#group").value || null;
  showError("");
  if (!from || !to) return;
  if (from > to) return showError(t("badRange"));
  const shared = new URLSearchParams({ from, to, tz: timezone, ...(groupId ? { group: groupId } : {}) });
  history.replaceState(null, "", `?${shared}`);
  $("#report-status").textContent = t("loading");
  $("#figures").dataset.state = "loading";
  try {
    // Times without an offset are wall-clock times in `timezone`: the chosen days, midnight to midnight.
    const variables = { from: `${from}T00:00:00`, to: `${nextDay(to)}T00:00:00`, groupId, timezone };
    state.report = (await request("report", variables)).report;
    state.period = { from, to };
    state.forbidden = false;
  } catch (error) {
    state.report = null;
    if (error.code === "UNAUTHENTICATED") return signOut();
    state.forbidden = error.code === "FORBIDDEN";
    showError(state.forbidden ? t("forbidden") : error.message);
  }
  render();
}

function showError(message) {
  $("#report-error").textContent = message;
}

// ---------------------------------------------------------------- formatting

function duration(seconds) {
  if (seconds == null) return "—";
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86400);
  return t("duration", d, Math.floor((total % 86400) / 3600), Math.floor((total % 3600) / 60), total % 60);
}

const percent = (rate) => (rate == null ? "—" : `${(rate * 100).toLocaleString(t("locale"), { maximumFractionDigits: 1 })}%`);
const score = (value) => (value == null ? "—" : value.toLocaleString(t("locale"), { minimumFractionDigits: 2, maximumFractionDigits: 2 }));
const count = (value) => value.toLocaleString(t("locale"));

function shortDate(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(t("locale"), { month: "short", day: "numeric", timeZone: "UTC" });
}

// ---------------------------------------------------------------- rendering

function render() {
  showLanguage(state.language, t);
  const signedIn = Boolean(state.session?.token);
  $("#login").hidden = signedIn;
  $("#reports").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  for (const part of ["#period", "#report-status", "#figures"]) $(part).hidden = state.forbidden;
  if (state.forbidden) showError(t("forbidden"));
  $("#who").textContent = signedIn ? state.session.agent.name : "";
  const whole = $("#group option[value='']");
  if (whole) whole.textContent = t("wholeHelpdesk");
  renderReport();
}

function renderReport() {
  const r = state.report;
  const figures = $("#figures");
  figures.dataset.state = r ? "ready" : "empty";
  $("#report-status").textContent = !r
    ? ""
    : [t("shown", state.period.from, state.period.to, r.timezone), r.group?.name, r.ticketsCreated ? "" : t("nothing")]
        .filter(Boolean)
        .join(" · ");
  setKpi("ticketsCreated", r ? count(r.ticketsCreated) : "–");
  setKpi("ticketsResolved", r ? count(r.ticketsResolved) : "–");
  setKpi("reopenRate", r ? percent(r.reopenRate) : "–");
  setKpi("slaComplianceRate", r ? percent(r.slaComplianceRate) : "–");
  setKpi("slaBreaches", r ? count(r.slaBreaches) : "–");
  setKpi("csatAverage", r ? score(r.csatAverage) : "–", r ? t("responses", r.csatResponses) : "");
  setKpi("csatPositiveRate", r ? percent(r.csatPositiveRate) : "–");
  setKpi("articleHelpfulRate", r ? percent(r.articleHelpfulRate) : "–");
  setKpi("selfServiceRate", r ? percent(r.selfServiceRate) : "–");
  renderCharts(r);
  renderDurations(r);
  renderShares("#by-channel", r?.byChannel ?? [], (row) => t(row.channel), r?.ticketsCreated);
  renderShares("#by-category", r?.byCategory ?? [], (row) => row.category ?? t("noCategory"), r?.ticketsCreated);
  renderAgents(r?.byAgent ?? []);
  fillTable("#daily", (r?.daily ?? []).map((d) => ({ key: d.date, cells: [d.date, count(d.created), count(d.resolved)] })));
}

function setKpi(name, value, detail = "") {
  const kpi = $(`[data-kpi="${name}"]`);
  kpi.querySelector(".value").textContent = value;
  const extra = kpi.querySelector(".detail");
  if (extra) extra.textContent = detail;
}

function renderDurations(r) {
  const row = (key) => {
    const d = r[key];
    return { key, cells: [t(key), count(d.count), duration(d.averageSeconds), duration(d.medianSeconds), duration(d.p90Seconds)] };
  };
  fillTable("#durations", r ? [row("firstResponse"), row("resolution")] : []);
}

function renderShares(selector, rows, name, total) {
  fillTable(
    selector,
    rows.map((row) => ({ key: row.channel ?? row.category ?? "", cells: [name(row), count(row.count), percent(total ? row.count / total : null)] })),
  );
}

function renderAgents(rows) {
  fillTable(
    "#by-agent",
    rows.map((row) => ({
      key: row.agent.id,
      cells: [
        row.agent.name,
        count(row.assigned),
        count(row.resolved),
        duration(row.firstResponse.averageSeconds),
        duration(row.firstResponse.medianSeconds),
        duration(row.resolution.averageSeconds),
        duration(row.resolution.medianSeconds),
        score(row.csatAverage),
      ],
    })),
  );
}

// Everything shown comes from the server: text nodes only, never HTML.
function fillTable(selector, rows) {
  $(`${selector} tbody`).replaceChildren(
    ...rows.map(({ key, cells }) => {
      const tr = document.createElement("tr");
      tr.dataset.key = key;
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

// ---------------------------------------------------------------- charts

function renderCharts(r) {
  for (const chart of Object.values(state.charts)) chart.destroy();
  state.charts = {};
  if (!r) return;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  state.charts.volume = chart("#chart-volume", {
    type: "bar",
    data: {
      labels: r.daily.map((d) => shortDate(d.date)),
      datasets: [
        { label: t("created"), data: r.daily.map((d) => d.created), backgroundColor: COLORS.created },
        { label: t("resolved"), data: r.daily.map((d) => d.resolved), backgroundColor: COLORS.resolved },
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const stats = ["averageSeconds", "medianSeconds", "p90Seconds"];
  state.charts.durations = chart("#chart-durations", {
    type: "bar",
    data: {
      labels: [t("average"), t("median"), t("p90")],
      datasets: ["firstResponse", "resolution"].map((key) => ({
        label: t(key),
        data: stats.map((stat) => r[key][stat]),
        backgroundColor: COLORS[key],
      })),
    },
    options: {
      scales: { y: { beginAtZero: true, ticks: { stepSize: durationStep(r), callback: (value) => duration(value) } } },
      plugins: { tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${duration(item.raw)}` } } },
    },
  });
  const rates = ["slaComplianceRate", "csatPositiveRate", "reopenRate", "articleHelpfulRate", "selfServiceRate"];
  state.charts.quality = chart("#chart-quality", {
    type: "bar",
    data: {
      labels: rates.map((key) => t(key)),
      datasets: [{ label: "%", data: rates.map((key) => (r[key] == null ? null : r[key] * 100)), backgroundColor: COLORS.rate }],
    },
    options: {
      indexAxis: "y",
      scales: { x: { min: 0, max: 100, ticks: { callback: (value) => `${value}%` } } },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => percent(item.raw / 100) } },
      },
    },
  });
}

// Gridlines at whole minutes, hours or days rather than at Chart.js's round numbers of seconds.
const DURATION_STEPS = [60, 300, 600, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 172800, 604800];

function durationStep(r) {
  const longest = Math.max(
    0,
    ...["firstResponse", "resolution"].flatMap((key) => [r[key].averageSeconds, r[key].p90Seconds].map((s) => s ?? 0)),
  );
  return DURATION_STEPS.find((step) => longest / step <= 8) ?? 2_592_000;
}

function chart(selector, config) {
  const canvas = $(selector);
  canvas.setAttribute("aria-label", config.data.datasets.map((d) => `${d.label}: ${d.data.join(", ")}`).join("; "));
  // No animation: a report is read, not watched (and a screenshot shows the finished chart).
  config.options = { ...config.options, animation: false, responsive: true, maintainAspectRatio: false };
  return new Chart(canvas, config);
}

// ---------------------------------------------------------------- start

async function start() {
  $("#login-form").addEventListener("submit", signIn);
  $("#logout").addEventListener("click", signOut);
  $("#period").addEventListener("submit", runReport);
  for (const button of document.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => {
      setLastDays(Number(button.dataset.days));
      runReport();
    });
  }
  listenForLanguage(LANGUAGE_KEY, (language) => (state.language = language), render);
  fillPeriodForm();
  render();
  try {
    state.documents = await documentsLoaded;
  } catch (error) {
    $("#login-error").textContent = error.message;
    return;
  }
  if (state.session?.token) await openReports();
}

start();
