// The agent console: an agent's queue, one ticket's conversation, history, sub-tickets and
// suggested articles, replies and lifecycle moves, and assignments arriving live. Every
// operation it sends is one of the .graphql documents beside this file (the same documents
// the test suite runs against a real server); it uses nothing but the public GraphQL API.
import { chooseLanguage, follower, listenForLanguage, loadDocuments, loginHandler, readSession, requester, showConnectionState, showLanguage, translator } from "../shared/graphql-page.js";
import { TransportWsClient } from "../wallboard/graphql-transport-ws.js";
import { LABELS } from "./labels.js";

const DOCUMENT_FILES = {
  login: "Login.graphql",
  me: "Me.graphql",
  presence: "SetPresence.graphql",
  queue: "Queue.graphql",
  ticket: "TicketDetail.graphql",
  comments: "TicketComments.graphql",
  history: "TicketHistory.graphql",
  sla: "TicketSla.graphql",
  articles: "knowledge/TicketSuggestedArticles.graphql",
  addComment: "AddComment.graphql",
  macros: "Macros.graphql",
  renderMacro: "RenderMacro.graphql",
  applyMacro: "ApplyMacro.graphql",
  start: "StartTicket.graphql",
  setPending: "SetTicketPending.graphql",
  hold: "HoldTicket.graphql",
  resume: "ResumeTicket.graphql",
  resolve: "ResolveTicket.graphql",
  close: "CloseTicket.graphql",
  reopen: "ReopenTicket.graphql",
  assignments: "AssignmentEventsSubscription.graphql",
  ticketEvents: "TicketEventsSubscription.graphql",
  notifications: "Notifications.graphql",
  markRead: "MarkNotificationsRead.graphql",
  notified: "NotificationsSubscription.graphql",
};
// The lifecycle (app/domain/lifecycle.py): the moves each status allows, and each move's mutation field.
const MOVES = {
  NEW: ["start"],
  OPEN: ["setPending", "hold", "resolve"],
  PENDING: ["resume", "resolve"],
  ON_HOLD: ["resume", "resolve"],
  RESOLVED: ["reopen", "close"],
  CLOSED: [],
};
const MUTATION_FIELDS = {
  start: "startTicket", setPending: "setTicketPending", hold: "holdTicket", resume: "resumeTicket",
  resolve: "resolveTicket", close: "closeTicket", reopen: "reopenTicket",
};
const STATUSES = ["NEW", "OPEN", "PENDING", "ON_HOLD", "RESOLVED", "CLOSED"];
const ACTIVE = ["NEW", "OPEN", "PENDING", "ON_HOLD"];
const PRIORITIES = ["URGENT", "HIGH", "NORMAL", "LOW"];
// Event types that can move a ticket into, out of or within a queue.
const QUEUE_EVENTS = new Set([
  "CREATED", "UPDATED", "STATUS_CHANGED", "PRIORITY_CHANGED", "ASSIGNED", "UNASSIGNED", "ESCALATED",
  "SLA_WARNING", "SLA_BREACHED", "MERGED",
]);
const ARRIVALS_LIMIT = 30;
const SESSION_KEY = "helpdesk.console.session";
const LANGUAGE_KEY = "helpdesk.console.language";

const $ = (selector) => document.querySelector(selector);
const state = {
  language: chooseLanguage(LANGUAGE_KEY, LABELS),
  session: readSession(SESSION_KEY), // {token, agent}
  me: null, // the Me query's agent: id, role, groups
  documents: {},
  filters: { scope: "mine", status: "active", priority: "", atRisk: false },
  queue: { edges: [], totalCount: 0, pageInfo: null },
  ticketId: null,
  ticket: null, // TicketDetail's ticket, with .sla and .suggestedArticles merged in
  arrivals: [], // newest first
  seenArrivals: new Set(),
  cursors: { assignments: null, ticketEvents: null },
  connection: { state: "closed" },
  client: null,
  stops: [],
  reloads: {}, // name -> pending timer, to fold bursts of events into one reload
  sequence: { queue: 0, ticket: 0 }, // only the newest answer of each kind is shown
  bell: { items: [], unread: 0, open: false }, // my newest notifications and how many are unread
};

const t = translator(LABELS, () => state.language);
// Started at once; the first request waits for it.
const documentsLoaded = loadDocuments(DOCUMENT_FILES, import.meta.url);
const request = requester(documentsLoaded, () => state.session?.token);

// A failed request signs the agent out when the credential is gone, else shows its message.
function reportTo(selector) {
  return (error) => {
    if (error.code === "UNAUTHENTICATED") return signOut();
    $(selector).textContent = error.message;
  };
}

// ---------------------------------------------------------------- signing in and out

const signIn = loginHandler({
  request,
  sessionKey: SESSION_KEY,
  errorElement: $("#login-error"),
  t,
  open: async (session, form) => {
    state.session = session;
    form.reset();
    await openConsole();
  },
});

function signOut() {
  stopWatching();
  state.client?.dispose();
  Object.assign(state, {
    client: null, session: null, me: null, ticketId: null, ticket: null, arrivals: [], seenArrivals: new Set(),
    queue: { edges: [], totalCount: 0, pageInfo: null },
  });
  sessionStorage.removeItem(SESSION_KEY);
  showConnection({ state: "closed" });
  render();
}

// ---------------------------------------------------------------- the console

async function openConsole() {
  try {
    state.me = (await request("me")).me;
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return signOut();
    $("#login-error").textContent = error.message;
    return;
  }
  if (!state.me) return signOut(); // an API token, not an agent
  loadMacros();
  // Agents start with their own tickets; supervisors and admins with everything they oversee.
  state.filters.scope = state.me.role === "AGENT" ? "mine" : "all";
  fillScopes();
  state.client = new TransportWsClient({
    url: new URL("/graphql", location.href.replace(/^http/, "ws")).href,
    connectionParams: () => ({ Authorization: `Bearer ${state.session.token}` }),
    onStatus: showConnection,
    onFatal: signOut,
  });
  render();
  watch();
  await loadQueue();
  await openFromHash();
}

function watch() {
  stopWatching();
  const follow = follower(state.client, state.documents, failed);
  // Variables are read at every (re)subscribe: after a reconnect both feeds resume where they were.
  state.stops = [
    follow("assignments", () => ({ after: state.cursors.assignments }), (data) => arrived(data.assignmentEvents)),
    follow("ticketEvents", () => ({ after: state.cursors.ticketEvents }), (data) => changed(data.ticketEvents)),
    // The stream starts at "now": at every (re)subscribe the list is read again, so none is missed.
    follow("notified", () => (loadNotifications(), {}), (data) => notified(data.notifications)),
  ];
}

function stopWatching() {
  for (const stop of state.stops) stop();
  state.stops = [];
  for (const timer of Object.values(state.reloads)) clearTimeout(timer);
  state.reloads = {};
}

function failed(errors) {
  const list = Array.isArray(errors) ? errors : [errors];
  if (list.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return signOut();
  $("#queue-error").textContent = list.map((e) => e.message).join("; ");
}

function reloadSoon(name, reload) {
  clearTimeout(state.reloads[name]);
  state.reloads[name] = setTimeout(() => {
    delete state.reloads[name];
    reload();
  }, 300);
}

function arrived(event) {
  state.cursors.assignments = event.cursor;
  if (state.seenArrivals.has(event.cursor)) return;
  state.seenArrivals.add(event.cursor);
  state.arrivals.unshift(event);
  state.arrivals.length = Math.min(state.arrivals.length, ARRIVALS_LIMIT);
  renderArrivals();
  if (event.assignee?.id === state.me.id) showToast(event);
  reloadSoon("queue", loadQueue);
}

function changed(event) {
  state.cursors.ticketEvents = event.cursor;
  if (QUEUE_EVENTS.has(event.type)) reloadSoon("queue", loadQueue);
  if (event.ticket.id === state.ticketId) reloadSoon("ticket", () => loadTicket(state.ticketId));
}

// ---------------------------------------------------------------- the bell

async function loadNotifications() {
  try {
    const data = await request("notifications", { first: 20 });
    state.bell.items = data.notifications.edges.map((edge) => edge.node);
    state.bell.unread = data.unread.totalCount;
  } catch (error) {
    return failed(error);
  }
  renderBell();
}

function notified(notification) {
  if (state.bell.items.some((n) => n.id === notification.id)) return;
  state.bell.items.unshift(notification);
  state.bell.items.length = Math.min(state.bell.items.length, 20);
  if (!notification.readAt) state.bell.unread += 1;
  renderBell();
}

// Opening the list reads it: what it shows unread becomes read.
async function toggleBell() {
  state.bell.open = !state.bell.open;
  renderBell();
  if (!state.bell.open) return;
  const ids = state.bell.items.filter((n) => !n.readAt).map((n) => n.id);
  if (ids.length) await markRead(ids);
}

async function markRead(ids) {
  try {
    await request("markRead", { ids });
  } catch (error) {
    return failed(error);
  }
  await loadNotifications();
}

function renderBell() {
  const { items, unread, open } = state.bell;
  $("#bell-count").textContent = String(unread);
  $("#bell-count").dataset.count = String(unread);
  $("#bell").setAttribute("aria-expanded", String(open));
  $("#bell-panel").hidden = !open;
  $("#bell-list").replaceChildren(
    ...items.map((n) => {
      const item = element("li", n.readAt ? "notification" : "notification unread", "");
      item.dataset.kind = n.kind;
      const time = element("time", "", clock(n.createdAt));
      time.dateTime = n.createdAt;
      const text = n.ticket ? element("a", "message", n.message) : element("span", "message", n.message);
      if (n.ticket) text.href = `#ticket=${encodeURIComponent(n.ticket.id)}`;
      item.append(element("span", "kind", t(`kind_${n.kind}`)), text, time);
      return item;
    }),
  );
  $("#bell-empty").hidden = items.length > 0;
}

// ---------------------------------------------------------------- the queue

function queueFilter() {
  const { scope, status, priority, atRisk } = state.filters;
  const filter = {};
  if (scope === "mine") filter.assigneeId = state.me.id;
  else if (scope.startsWith("group:")) Object.assign(filter, { groupId: scope.slice(6), unassigned: true });
  if (status === "active") filter.status = ACTIVE;
  else if (status) filter.status = [status];
  if (priority) filter.priority = [priority];
  if (atRisk) filter.slaAtRisk = true;
  return filter;
}

async function loadQueue({ more = false } = {}) {
  const sequence = ++state.sequence.queue;
  const after = more ? state.queue.pageInfo?.endCursor : null;
  try {
    const { tickets } = await request("queue", { filter: queueFilter(), after });
    if (sequence !== state.sequence.queue) return; // a newer load is under way
    $("#queue-error").textContent = "";
    state.queue = {
      edges: more ? [...state.queue.edges, ...tickets.edges] : tickets.edges,
      totalCount: tickets.totalCount,
      pageInfo: tickets.pageInfo,
    };
    renderQueue();
  } catch (error) {
    reportTo("#queue-error")(error);
  }
}

function fillScopes() {
  const select = $("#scope");
  select.replaceChildren(
    new Option(t("mine"), "mine"),
    ...(state.me?.groups ?? []).map((g) => new Option(t("groupQueue", g.name), `group:${g.id}`)),
    new Option(t("allVisible"), "all"),
  );
  select.value = state.filters.scope;
  const status = $("#status");
  status.replaceChildren(
    new Option(t("active"), "active"),
    ...STATUSES.map((s) => new Option(t(s), s)),
    new Option(t("any"), ""),
  );
  status.value = state.filters.status;
  const priority = $("#priority");
  priority.replaceChildren(new Option(t("any"), ""), ...PRIORITIES.map((p) => new Option(t(p), p)));
  priority.value = state.filters.priority;
}

// ---------------------------------------------------------------- one ticket

async function openFromHash() {
  const match = /^#ticket=(.+)$/.exec(location.hash);
  const id = match ? decodeURIComponent(match[1]) : null;
  if (id === state.ticketId) return;
  state.ticketId = id;
  state.ticket = null;
  $("#ticket-error").textContent = "";
  $("#resolve-form").hidden = true;
  renderTicket();
  renderQueue();
  if (id) await loadTicket(id);
}

function openTicket(id) {
  location.hash = `ticket=${encodeURIComponent(id)}`; // the hashchange listener opens it
}

async function loadTicket(id) {
  const sequence = ++state.sequence.ticket;
  try {
    const [detail, sla, articles] = await Promise.all([
      request("ticket", { id }),
      request("sla", { id }),
      request("articles", { id }),
    ]);
    if (sequence !== state.sequence.ticket || id !== state.ticketId) return;
    if (!detail.ticket) {
      $("#ticket-error").textContent = `${id}: not found`;
      state.ticket = null;
    } else {
      state.ticket = {
        ...detail.ticket,
        sla: sla.ticket?.sla ?? null,
        suggestedArticles: articles.ticket?.suggestedArticles ?? [],
      };
    }
    renderTicket();
  } catch (error) {
    reportTo("#ticket-error")(error);
  }
}

async function loadMore(kind) {
  const ticket = state.ticket;
  const connection = kind === "comments" ? ticket.comments : ticket.history;
  try {
    const data = await request(kind, { id: ticket.id, after: connection.pageInfo.endCursor });
    if (state.ticket !== ticket) return;
    const page = data.ticket[kind];
    connection.edges.push(...page.edges);
    connection.pageInfo = page.pageInfo;
    renderTicket();
  } catch (error) {
    reportTo("#ticket-error")(error);
  }
}

// Runs a mutation on the open ticket; its userErrors are shown, and the ticket reloads either way.
async function mutate(document, field, variables) {
  const id = state.ticketId;
  $("#ticket-error").textContent = "";
  try {
    const payload = (await request(document, variables))[field];
    if (payload.userErrors.length) {
      const conflict = payload.userErrors.some((e) => e.code === "VERSION_CONFLICT");
      $("#ticket-error").textContent = conflict ? t("conflict") : payload.userErrors.map((e) => e.message).join("; ");
      await loadTicket(id);
      return false;
    }
    await Promise.all([loadTicket(id), loadQueue()]);
    return true;
  } catch (error) {
    reportTo("#ticket-error")(error);
    return false;
  }
}

async function move(action, extra = {}) {
  const ticket = state.ticket;
  return mutate(action, MUTATION_FIELDS[action], { id: ticket.id, expectedVersion: ticket.version, ...extra });
}

async function reply(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = String(data.get("body")).trim();
  if (!body) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const ok = await mutate("addComment", "addComment", {
    ticketId: state.ticketId,
    body,
    visibility: data.get("visibility"),
  });
  button.disabled = false;
  if (ok) form.elements.body.value = "";
}

// ---------------------------------------------------------------- macros in the reply box

async function loadMacros() {
  try {
    const { macros } = await request("macros");
    const picker = $("#macro-picker");
    const none = element("option", "", t("pickMacro"));
    none.value = "";
    picker.replaceChildren(none, ...macros.map((macro) => {
      const option = element("option", "", macro.owner ? `${macro.name} (${t("personalMacro")})` : macro.name);
      option.value = macro.id;
      return option;
    }));
    $("#macro-row").hidden = macros.length === 0;
  } catch (error) {
    reportTo("#ticket-error")(error);
  }
}

// Choosing a macro previews its reply on this ticket; applying it sends the reply and runs its
// actions in one step (all or nothing on the server).
async function previewMacro() {
  const macroId = $("#macro-picker").value;
  $("#macro-apply").disabled = !macroId;
  $("#macro-preview").textContent = "";
  $("#macro-missing").textContent = "";
  if (!macroId) return;
  try {
    const { renderMacro } = await request("renderMacro", { ticketId: state.ticketId, macroId });
    $("#macro-preview").textContent = renderMacro.body ?? t("macroNoReply");
    if (renderMacro.missingPlaceholders.length) {
      $("#macro-missing").textContent = t("macroMissing")(renderMacro.missingPlaceholders.join(", "));
    }
  } catch (error) {
    reportTo("#ticket-error")(error);
  }
}

async function applyMacro() {
  const macroId = $("#macro-picker").value;
  if (!macroId) return;
  $("#macro-apply").disabled = true;
  const ok = await mutate("applyMacro", "applyMacro", {
    ticketId: state.ticketId, macroId, expectedVersion: state.ticket.version,
  });
  if (ok) {
    $("#macro-picker").value = "";
    await previewMacro();
  } else {
    $("#macro-apply").disabled = false;
  }
}

async function resolve(event) {
  event.preventDefault();
  const resolution = $("#resolution").value.trim();
  if (!resolution) return;
  if (await move("resolve", { resolution })) {
    $("#resolution").value = "";
    $("#resolve-form").hidden = true;
  }
}

async function setPresence(event) {
  try {
    const { setPresence } = await request("presence", { presence: event.target.value });
    if (setPresence.userErrors.length) $("#queue-error").textContent = setPresence.userErrors[0].message;
    else state.me.presence = setPresence.agent.presence;
  } catch (error) {
    reportTo("#queue-error")(error);
  }
}

// ---------------------------------------------------------------- rendering

function render() {
  showLanguage(state.language, t);
  const signedIn = Boolean(state.session?.token && state.me);
  $("#login").hidden = signedIn;
  $("#workspace").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  $("#presence-picker").hidden = !signedIn;
  $("#who").textContent = signedIn ? state.me.name : "";
  $("#bell").hidden = !signedIn;
  if (!signedIn) state.bell = { items: [], unread: 0, open: false };
  if (signedIn) {
    $("#presence").value = state.me.presence;
    for (const option of $("#presence").options) option.textContent = t(option.value);
    fillScopes();
  }
  showConnection(state.connection);
  renderQueue();
  renderArrivals();
  renderBell();
  renderTicket();
}

function showConnection(connection) {
  state.connection = connection;
  showConnectionState($("#connection"), connection, t);
}

function renderQueue() {
  const { edges, totalCount, pageInfo } = state.queue;
  $("#queue").replaceChildren(...edges.map(({ node }) => queueItem(node)));
  $("#queue-summary").textContent = edges.length ? t("queueCount", edges.length, totalCount) : t("queueEmpty");
  $("#queue-more").hidden = !pageInfo?.hasNextPage;
}

function queueItem(ticket) {
  const item = element("li", "queue-item", "");
  item.dataset.ticketId = ticket.id;
  item.dataset.number = String(ticket.number);
  item.dataset.status = ticket.status;
  if (ticket.id === state.ticketId) item.setAttribute("aria-current", "true");
  const link = element("a", "subject", `#${ticket.number} ${ticket.subject}`);
  link.href = `#ticket=${encodeURIComponent(ticket.id)}`;
  const due = slaDue(ticket.sla);
  const meta = element("div", "meta", "");
  meta.append(
    badge("status", ticket.status),
    badge("priority", ticket.priority),
    element("span", "customer", ticket.customer.name + (ticket.customer.tier === "VIP" ? " · VIP" : "")),
    element("span", "assignee", ticket.assignee?.name ?? ticket.group?.name ?? "—"),
  );
  item.append(link, meta);
  if (due) item.append(slaLine(due.label, due.clock));
  return item;
}

// The clock that matters now: a running one (first response before resolution), else none.
function slaDue(sla) {
  if (!sla) return null;
  for (const [label, clock] of [["firstResponse", sla.firstResponse], ["resolutionDue", sla.resolution]]) {
    if (clock && (clock.state === "RUNNING" || clock.state === "BREACHED") && clock.dueAt) return { label, clock };
  }
  return null;
}

function slaLine(label, clock) {
  const line = element("div", "sla", "");
  line.dataset.state = slaState(clock);
  const when = element("time", "", label ? `${t(label)} ${dateTime(clock.dueAt)}` : dateTime(clock.dueAt));
  when.dateTime = clock.dueAt;
  line.append(when, element("span", "remaining", remaining(clock)));
  return line;
}

function slaState(clock) {
  if (clock.state === "BREACHED" || (clock.remainingSeconds ?? 0) < 0) return "breached";
  if (clock.state === "RUNNING" && clock.warnedAt) return "warning";
  return clock.state.toLowerCase();
}

function remaining(clock) {
  if (clock.state === "MET") return t("slaMet");
  if (clock.state === "PAUSED") return t("slaPaused");
  const left = clock.remainingSeconds;
  if (left != null && left < 0) return t("overdue", duration(-left));
  if (clock.state === "BREACHED") return t("breached");
  return left == null ? "" : t("dueIn", duration(left));
}

function renderArrivals() {
  $("#arrivals").replaceChildren(
    ...state.arrivals.map((event) => {
      const item = element("li", "arrival", "");
      item.dataset.cursor = event.cursor;
      if (event.assignee?.id === state.me?.id) item.classList.add("mine");
      const time = element("time", "", clock(event.occurredAt));
      time.dateTime = event.occurredAt;
      const link = element("a", "subject", `#${event.ticket.number} ${event.ticket.subject}`);
      link.href = `#ticket=${encodeURIComponent(event.ticket.id)}`;
      item.append(
        time,
        link,
        element("span", "who", `→ ${event.assignee?.name ?? t("nobody")}`),
        element("span", "why", [t(event.reason), event.group?.name].filter(Boolean).join(" · ")),
      );
      return item;
    }),
  );
  $("#arrivals-empty").hidden = state.arrivals.length > 0;
}

function showToast(event) {
  const toast = $("#toast");
  toast.dataset.ticketId = event.ticket.id;
  $("#toast-text").textContent = `${t("newForYou")}: #${event.ticket.number} ${event.ticket.subject} (${t(event.ticket.priority)})`;
  toast.hidden = false;
}

function renderTicket() {
  const ticket = state.ticket;
  $("#ticket-placeholder").hidden = Boolean(state.ticketId);
  $("#ticket").hidden = !ticket;
  if (!ticket) return;
  $("#ticket").dataset.ticketId = ticket.id;
  $("#ticket-title").textContent = `#${ticket.number} ${ticket.subject}`;
  $("#ticket-badges").replaceChildren(badge("status", ticket.status), badge("priority", ticket.priority));

  const facts = [
    ["customer", `${ticket.customer.name}${ticket.customer.email ? ` <${ticket.customer.email}>` : ""}${ticket.customer.tier === "VIP" ? " · VIP" : ""}`],
    ["assignee", ticket.assignee?.name ?? t("nobody")],
    ["group", ticket.group?.name ?? "—"],
    ["channel", t(ticket.channel)],
    ["created", dateTime(ticket.createdAt)],
  ];
  if (ticket.escalationLevel) facts.push(["escalation", String(ticket.escalationLevel)]);
  $("#ticket-facts").replaceChildren(
    ...facts.flatMap(([key, value]) => {
      const term = element("dt", "", t(key));
      const definition = element("dd", "", value);
      definition.dataset.fact = key;
      return [term, definition];
    }),
    ...slaFacts(ticket.sla),
  );

  const moves = MOVES[ticket.status] ?? [];
  $("#actions").replaceChildren(
    ...moves.map((action) => {
      const button = element("button", action === "resolve" ? "primary" : "", t(action));
      button.type = "button";
      button.dataset.action = action;
      return button;
    }),
  );
  if (!moves.length) $("#actions").append(element("span", "muted", t("noActions")));
  if (!moves.includes("resolve")) $("#resolve-form").hidden = true;

  $("#ticket-description").textContent = ticket.description;
  renderConversation(ticket);
  renderSide(ticket);
  renderHistory(ticket);
}

function slaFacts(sla) {
  if (!sla) return [element("dt", "", "SLA"), element("dd", "muted", t("noSla"))];
  return [
    ["firstResponse", sla.firstResponse],
    ["resolutionDue", sla.resolution],
  ]
    .filter(([, clock]) => clock)
    .flatMap(([label, clock]) => {
      const definition = element("dd", "", "");
      definition.dataset.fact = label;
      definition.append(clock.dueAt ? slaLine(null, clock) : element("span", "", remaining(clock)));
      return [element("dt", "", t(label)), definition];
    });
}

// Where the mailed copy of a public reply stands: queued (and how often tried), sent, or why not.
function deliveryLine(delivery) {
  const to = delivery.to.join(", ");
  const label =
    delivery.status === "SENT" ? t("mailSENT", to, dateTime(delivery.sentAt))
    : delivery.status === "QUEUED" ? t("mailQUEUED", to, delivery.attempts)
    : t(`mail${delivery.status}`, to, delivery.lastError ?? "");
  const line = element("span", "delivery", label);
  line.dataset.delivery = delivery.status;
  return line;
}

function renderConversation(ticket) {
  const edges = ticket.comments.edges;
  $("#conversation").replaceChildren(
    ...edges.map(({ node }) => {
      const item = element("li", `message ${node.visibility.toLowerCase()}`, "");
      item.dataset.visibility = node.visibility;
      const author = node.authorAgent?.name ?? (node.authorCustomer ? `${node.authorCustomer.name} (${t("fromCustomer")})` : t("system"));
      const head = element("div", "message-head", "");
      const time = element("time", "", dateTime(node.createdAt));
      time.dateTime = node.createdAt;
      head.append(element("strong", "", author), time);
      if (node.visibility === "INTERNAL") head.append(element("span", "tag internal", t("internalBadge")));
      item.append(head, element("p", "body", node.body));
      for (const file of node.attachments ?? []) item.append(element("span", "file", `📎 ${file.filename}`));
      if (node.emailDelivery) item.append(deliveryLine(node.emailDelivery));
      return item;
    }),
  );
  $("#conversation-empty").hidden = edges.length > 0;
  $("#comments-more").hidden = !ticket.comments.pageInfo.hasNextPage;
  $("#reply-form").hidden = ticket.status === "CLOSED";
}

function renderSide(ticket) {
  $("#articles").replaceChildren(
    ...ticket.suggestedArticles.map((match) => {
      const item = element("li", "article", "");
      item.append(element("strong", "", match.article.title), element("p", "snippet", match.snippet));
      return item;
    }),
  );
  $("#articles-empty").hidden = ticket.suggestedArticles.length > 0;

  const parent = $("#parent");
  parent.replaceChildren();
  if (ticket.parent) {
    const link = element("a", "", `#${ticket.parent.number} ${ticket.parent.subject}`);
    link.href = `#ticket=${encodeURIComponent(ticket.parent.id)}`;
    parent.append(element("span", "muted", `${t("parentTicket")}: `), link, badge("status", ticket.parent.status));
  }
  parent.hidden = !ticket.parent;
  $("#subtickets").replaceChildren(
    ...ticket.subTickets.map((child) => {
      const item = element("li", "", "");
      const link = element("a", "", `#${child.number} ${child.subject}`);
      link.href = `#ticket=${encodeURIComponent(child.id)}`;
      item.append(link, badge("status", child.status), element("span", "muted", child.group?.name ?? ""));
      return item;
    }),
  );
  const progress = ticket.subTicketProgress;
  $("#subtickets-summary").textContent = progress.total ? t("progress", progress) : t("noSubTickets");
}

function renderHistory(ticket) {
  const describe = (event) => {
    const text = LABELS[state.language].events[event.type] ?? LABELS.en.events[event.type];
    return text ? text(event.data ?? {}, t) : event.type;
  };
  $("#history").replaceChildren(
    ...ticket.history.edges.map(({ node }) => {
      const item = element("li", "", "");
      item.dataset.type = node.type;
      const time = element("time", "", dateTime(node.occurredAt));
      time.dateTime = node.occurredAt;
      const actor = node.actorAgent?.name ?? node.actorCustomer?.name ?? t("system");
      item.append(time, element("span", "actor", actor), element("span", "what", describe(node)));
      return item;
    }),
  );
  $("#history-more").hidden = !ticket.history.pageInfo.hasNextPage;
}

function badge(kind, value) {
  const node = element("span", `badge ${kind}`, t(value));
  node.dataset[kind] = value;
  return node;
}

// Everything shown comes from the server: text nodes only, never HTML.
function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  return t("duration", Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60);
}

const clock = (iso) => new Date(iso).toLocaleTimeString(t("locale"), { hour12: false });
const dateTime = (iso) =>
  iso ? new Date(iso).toLocaleString(t("locale"), { dateStyle: "medium", timeStyle: "short", hour12: false }) : "—";

// ---------------------------------------------------------------- start

function listen() {
  $("#login-form").addEventListener("submit", signIn);
  $("#logout").addEventListener("click", signOut);
  $("#presence").addEventListener("change", setPresence);
  $("#bell").addEventListener("click", toggleBell);
  $("#bell-read-all").addEventListener("click", () => markRead(null));
  listenForLanguage(LANGUAGE_KEY, (language) => (state.language = language), render);
  $("#filters").addEventListener("change", () => {
    Object.assign(state.filters, {
      scope: $("#scope").value,
      status: $("#status").value,
      priority: $("#priority").value,
      atRisk: $("#at-risk").checked,
    });
    loadQueue();
  });
  $("#filters").addEventListener("submit", (event) => event.preventDefault());
  $("#queue-more").addEventListener("click", () => loadQueue({ more: true }));
  window.addEventListener("hashchange", () => state.me && openFromHash());
  $("#toast-open").addEventListener("click", () => {
    $("#toast").hidden = true;
    openTicket($("#toast").dataset.ticketId);
  });
  $("#toast-dismiss").addEventListener("click", () => ($("#toast").hidden = true));
  $("#actions").addEventListener("click", (event) => {
    const action = event.target.closest("button[data-action]")?.dataset.action;
    if (!action) return;
    if (action === "resolve") {
      $("#resolve-form").hidden = false;
      $("#resolution").focus();
    } else {
      move(action);
    }
  });
  $("#resolve-form").addEventListener("submit", resolve);
  $("#resolve-cancel").addEventListener("click", () => ($("#resolve-form").hidden = true));
  $("#reply-form").addEventListener("submit", reply);
  $("#macro-picker").addEventListener("change", previewMacro);
  $("#macro-apply").addEventListener("click", applyMacro);
  $("#comments-more").addEventListener("click", () => loadMore("comments"));
  $("#history-more").addEventListener("click", () => loadMore("history"));
  // Remaining SLA time is computed by the server; refresh the numbers now and then.
  setInterval(() => state.me && reloadSoon("queue", loadQueue), 60_000);
}

async function start() {
  listen();
  render();
  try {
    state.documents = await documentsLoaded;
  } catch (error) {
    $("#login-error").textContent = error.message;
    return;
  }
  if (state.session?.token) await openConsole();
}

start();
