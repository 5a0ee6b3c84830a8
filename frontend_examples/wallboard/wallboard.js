// The helpdesk wallboard: live numbers for the whole helpdesk or one group, and a feed of
// assignment and SLA events. Every operation it sends is one of the .graphql documents
// beside this file (the same documents the test suite runs against a real server).
import { chooseLanguage, follower, listenForLanguage, loadDocuments, loginHandler, readSession, requester, showConnectionState, showLanguage, translator } from "../shared/graphql-page.js";
import { TransportWsClient } from "./graphql-transport-ws.js";

const DOCUMENT_FILES = {
  login: "Login.graphql",
  groups: "Groups.graphql",
  wallboard: "Wallboard.graphql",
  wallboardLive: "WallboardSubscription.graphql",
  assignments: "AssignmentEventsSubscription.graphql",
  sla: "SlaEventsSubscription.graphql",
};
const FEED_LIMIT = 50;
const STATUSES = ["NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED"];
const SESSION_KEY = "helpdesk.wallboard.session";
const LANGUAGE_KEY = "helpdesk.wallboard.language";

const LABELS = {
  en: {
    title: "Helpdesk wallboard", group: "Group", wholeHelpdesk: "Whole helpdesk", logout: "Sign out",
    signIn: "Sign in", email: "Email", password: "Password", loginFailed: "Sign-in failed",
    unassigned: "Unassigned", atRisk: "At risk", breachedToday: "Breached today", agentsOnline: "Agents online",
    oldestUnassignedWait: "Oldest unassigned wait", createdToday: "Created today", resolvedToday: "Resolved today",
    byStatus: "Tickets by status", updatedAt: "Updated", feed: "Live events", feedEmpty: "No events yet.",
    NEW: "New", OPEN: "Open", PENDING: "Pending", ON_HOLD: "On hold", RESOLVED: "Resolved", CLOSED: "Closed",
    assigned: "Assigned", unassignedEvent: "Unassigned", nobody: "nobody",
    ROUND_ROBIN: "round robin", LEAST_LOADED: "least loaded", SKILL_BASED: "skill based", MANUAL: "manual",
    ESCALATION: "escalation", QUEUE_DRAIN: "from the queue", UNASSIGNED: "unassigned",
    WARNING: "SLA warning", BREACHED: "SLA breached", FIRST_RESPONSE: "first response", RESOLUTION: "resolution",
    dueIn: (d) => `due in ${d}`, overdue: (d) => `overdue by ${d}`,
    live: "Live", connecting: "Connecting…", reconnecting: (s) => `Reconnecting in ${s}s`, closed: "Offline",
    duration: (h, m, s) => (h ? `${h}h ${m}m` : m ? `${m}m ${String(s).padStart(2, "0")}s` : `${s}s`),
    locale: "en-GB",
  },
  zh: {
    title: "客服实时看板", group: "小组", wholeHelpdesk: "全部客服", logout: "退出",
    signIn: "登录", email: "邮箱", password: "密码", loginFailed: "登录失败",
    unassigned: "未分配", atRisk: "SLA 预警中", breachedToday: "今日超时", agentsOnline: "在线客服",
    oldestUnassignedWait: "最久未分配等待", createdToday: "今日新建", resolvedToday: "今日解决",
    byStatus: "各状态工单", updatedAt: "更新于", feed: "实时事件", feedEmpty: "暂无事件。",
    NEW: "新建", OPEN: "处理中", PENDING: "待回复", ON_HOLD: "挂起", RESOLVED: "已解决", CLOSED: "已关闭",
    assigned: "已分配", unassignedEvent: "取消分配", nobody: "无人",
    ROUND_ROBIN: "轮询", LEAST_LOADED: "最少负载", SKILL_BASED: "按技能", MANUAL: "手动",
    ESCALATION: "升级", QUEUE_DRAIN: "队列分派", UNASSIGNED: "取消分配",
    WARNING: "SLA 预警", BREACHED: "SLA 超时", FIRST_RESPONSE: "首次响应", RESOLUTION: "解决",
    dueIn: (d) => `${d}后到期`, overdue: (d) => `已超时 ${d}`,
    live: "实时", connecting: "连接中…", reconnecting: (s) => `${s} 秒后重连`, closed: "离线",
    duration: (h, m, s) => (h ? `${h}小时${m}分` : m ? `${m}分${String(s).padStart(2, "0")}秒` : `${s}秒`),
    locale: "zh-CN",
  },
};

const $ = (selector) => document.querySelector(selector);
const state = {
  language: chooseLanguage(LANGUAGE_KEY, LABELS),
  session: readSession(SESSION_KEY), // {token, agent}
  documents: {},
  groupId: "",
  snapshot: null,
  snapshotAt: 0, // when the snapshot arrived, so the oldest wait keeps ticking between pushes
  feed: [], // newest first
  seen: new Set(),
  cursors: { assignments: null, sla: null },
  connection: { state: "closed" },
  client: null,
  stops: [],
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
    await openBoard();
  },
});

function signOut() {
  stopWatching();
  state.client?.dispose();
  state.client = null;
  state.session = null;
  sessionStorage.removeItem(SESSION_KEY);
  showConnection({ state: "closed" });
  render();
}

const mayWatchWholeHelpdesk = () => ["SUPERVISOR", "ADMIN"].includes(state.session?.agent?.role);

// ---------------------------------------------------------------- the board

async function openBoard() {
  // Agents may watch only their own groups' boards; supervisors and admins pick any, or all.
  const own = state.session.agent.groups ?? [];
  let groups = own;
  if (mayWatchWholeHelpdesk()) {
    try {
      groups = (await request("groups")).groups;
    } catch (error) {
      if (error.code === "UNAUTHENTICATED") return signOut();
    }
  }
  const select = $("#group");
  select.replaceChildren();
  if (mayWatchWholeHelpdesk()) select.append(new Option(t("wholeHelpdesk"), ""));
  for (const group of groups) select.append(new Option(group.name, group.id));
  state.groupId = mayWatchWholeHelpdesk() ? "" : (own[0]?.id ?? "");
  select.value = state.groupId;

  state.client = new TransportWsClient({
    url: new URL("/graphql", location.href.replace(/^http/, "ws")).href,
    connectionParams: () => ({ Authorization: `Bearer ${state.session.token}` }),
    onStatus: showConnection,
    onFatal: signOut,
  });
  render();
  await watch();
}

async function watch() {
  stopWatching();
  Object.assign(state, { snapshot: null, feed: [], seen: new Set(), cursors: { assignments: null, sla: null } });
  showError("");
  renderBoard();
  const groupId = state.groupId || null;
  try {
    showSnapshot((await request("wallboard", { groupId })).wallboard);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return signOut();
    showError(error.message);
  }
  const client = state.client;
  const follow = follower(client, state.documents, failed);
  state.stops = [
    follow("wallboardLive", { groupId }, (data) => showSnapshot(data.wallboard)),
    // Variables are read at every (re)subscribe: after a reconnect the feeds resume where they were.
    follow("assignments", () => ({ groupId, after: state.cursors.assignments }), (data) =>
      addEvent("assignments", data.assignmentEvents),
    ),
    follow("sla", () => ({ groupId, after: state.cursors.sla }), (data) => addEvent("sla", data.slaEvents)),
  ];
}

function stopWatching() {
  for (const stop of state.stops) stop();
  state.stops = [];
}

function failed(errors) {
  const list = Array.isArray(errors) ? errors : [errors];
  if (list.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return signOut();
  showError(list.map((e) => e.message).join("; "));
}

function showError(message) {
  $("#board-error").textContent = message;
}

function showSnapshot(snapshot) {
  // The query's answer may arrive after the subscription's first push: keep the newer one.
  if (state.snapshot && Date.parse(state.snapshot.generatedAt) > Date.parse(snapshot.generatedAt)) return;
  state.snapshot = snapshot;
  state.snapshotAt = Date.now();
  renderBoard();
}

function addEvent(feed, event) {
  state.cursors[feed] = event.cursor;
  if (state.seen.has(event.cursor)) return;
  state.seen.add(event.cursor);
  state.feed.unshift({ feed, event });
  state.feed.length = Math.min(state.feed.length, FEED_LIMIT);
  renderFeed();
}

// ---------------------------------------------------------------- rendering

function render() {
  showLanguage(state.language, t);
  const signedIn = Boolean(state.session?.token);
  $("#login").hidden = signedIn;
  $("#board").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  $("#group-picker").hidden = !signedIn;
  $("#who").textContent = signedIn ? state.session.agent.name : "";
  const whole = $("#group option[value='']");
  if (whole) whole.textContent = t("wholeHelpdesk");
  showConnection(state.connection);
  renderBoard();
  renderFeed();
}

function showConnection(connection) {
  state.connection = connection;
  showConnectionState($("#connection"), connection, t);
}

function setMetric(name, text, { highlight = true } = {}) {
  const element = $(`[data-metric="${name}"] .value`);
  if (element.textContent === text) return;
  element.textContent = text;
  if (!highlight) return;
  element.classList.remove("changed");
  void element.offsetWidth; // restart the highlight animation
  element.classList.add("changed");
}

function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  return t("duration", Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60);
}

function renderBoard() {
  const s = state.snapshot;
  const number = (value) => (s ? String(value) : "–");
  for (const name of ["unassigned", "atRisk", "breachedToday", "agentsOnline", "createdToday", "resolvedToday"]) {
    setMetric(name, number(s?.[name]));
  }
  renderWait();
  const counts = Object.fromEntries((s?.countsByStatus ?? []).map((c) => [c.status, c.count]));
  $("#statuses").replaceChildren(
    ...STATUSES.map((status) => {
      const cell = element("div", "status", "");
      cell.dataset.status = status;
      cell.append(element("span", "label", t(status)), element("span", "value", s ? String(counts[status] ?? 0) : "–"));
      return cell;
    }),
  );
  $("#generated-at").textContent = s ? clock(s.generatedAt) : "–";
}

function renderWait() {
  const s = state.snapshot;
  const wait = s?.oldestUnassignedWaitSeconds;
  const ticking = wait == null ? null : wait + (Date.now() - state.snapshotAt) / 1000;
  setMetric("oldestUnassignedWait", !s ? "–" : ticking == null ? "—" : duration(ticking), { highlight: false });
}

function renderFeed() {
  $("#feed").replaceChildren(...state.feed.map(({ feed, event }) => (feed === "sla" ? slaItem(event) : assignmentItem(event))));
  $("#feed-empty").hidden = state.feed.length > 0;
}

function assignmentItem(event) {
  const assigned = event.assignee != null;
  const item = feedItem("assignment", event, assigned ? t("assigned") : t("unassignedEvent"));
  item.append(
    element("span", "who", `→ ${event.assignee?.name ?? t("nobody")}`),
    element("span", "why", [t(event.reason), event.group?.name].filter(Boolean).join(" · ")),
  );
  return item;
}

function slaItem(event) {
  const item = feedItem("sla", event, t(event.kind));
  item.classList.add(event.kind.toLowerCase());
  const left = event.remainingSeconds;
  item.append(
    element("span", "who", `→ ${event.ticket.assignee?.name ?? t("nobody")}`),
    element("span", "why", `${t(event.target)} · ${left >= 0 ? t("dueIn", duration(left)) : t("overdue", duration(-left))}`),
  );
  return item;
}

function feedItem(kind, event, tag) {
  const item = element("li", `event ${kind}`, "");
  item.dataset.kind = kind;
  item.dataset.cursor = event.cursor;
  const time = element("time", "", clock(event.occurredAt));
  time.dateTime = event.occurredAt;
  item.append(time, element("span", "tag", tag), element("span", "ticket", `#${event.ticket.number} ${event.ticket.subject}`));
  return item;
}

// Everything shown comes from the server: text nodes only, never HTML.
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

const clock = (iso) => new Date(iso).toLocaleTimeString(t("locale"), { hour12: false });

// ---------------------------------------------------------------- start

async function start() {
  $("#login-form").addEventListener("submit", signIn);
  $("#logout").addEventListener("click", signOut);
  $("#group").addEventListener("change", (event) => {
    state.groupId = event.target.value;
    watch();
  });
  listenForLanguage(LANGUAGE_KEY, (language) => (state.language = language), render);
  setInterval(renderWait, 1000);
  render();
  try {
    state.documents = await documentsLoaded;
  } catch (error) {
    $("#login-error").textContent = error.message;
    return;
  }
  if (state.session?.token) await openBoard();
}

start();
