// ticket.html?number=N: one of the customer's tickets, its public thread and files; reply (with
// files), reopen when RESOLVED, rate once resolved. It follows the ticket live over
// graphql-transport-ws and reads it again on each event. A ticket that is not the customer's
// is null from the server, exactly like a missing one, and the page says "not found" for both.
import { follower, showConnectionState } from "../shared/graphql-page.js";
import { TransportWsClient } from "../wallboard/graphql-transport-ws.js";
import { $, dateTime, download, element, fileSize, openPortal, randomKey, userErrorText } from "./portal.js";

const DOCUMENT_FILES = {
  ticket: "CustomerTicket.graphql",
  reply: "AddCustomerReply.graphql",
  reopen: "ReopenTicket.graphql",
  rate: "RateTicket.graphql",
  events: "TicketEvents.graphql",
};
const PAGE_SIZE = 50;
const SCORES = [1, 2, 3, 4, 5];

const portal = openPortal("ticket", DOCUMENT_FILES, () => render());
const { t } = portal;
const number = /^[1-9]\d{0,9}$/.test(new URLSearchParams(location.search).get("number") ?? "")
  ? Number(new URLSearchParams(location.search).get("number"))
  : null;
const state = {
  needSignIn: portal.state.session ? null : "signInFirst",
  notFound: number === null,
  ticket: null,
  comments: [],
  pageInfo: null,
  notice: "",
  cursor: null,
  connection: { state: "closed" },
  client: null,
  sequence: 0,
  replyKey: randomKey(), // one per reply: a resent form is one comment
  reload: null,
};

// ---------------------------------------------------------------- reading

async function load() {
  const sequence = ++state.sequence;
  // Read as many comments as are shown, so a reload does not fold the thread back to one page.
  const wanted = Math.max(PAGE_SIZE, state.comments.length);
  try {
    let { ticket } = await portal.request("ticket", { number, first: PAGE_SIZE });
    const comments = ticket ? [...ticket.comments.edges] : [];
    let pageInfo = ticket?.comments.pageInfo;
    while (ticket && pageInfo.hasNextPage && comments.length < wanted) {
      const next = await portal.request("ticket", { number, first: PAGE_SIZE, after: pageInfo.endCursor });
      if (!next.ticket) ticket = null;
      else {
        comments.push(...next.ticket.comments.edges);
        pageInfo = next.ticket.comments.pageInfo;
      }
    }
    if (sequence !== state.sequence) return; // a newer read is under way
    $("#ticket-error").textContent = "";
    if (!ticket) {
      Object.assign(state, { notFound: true, ticket: null });
      stopLive();
    } else {
      Object.assign(state, { ticket, comments: comments.map((edge) => edge.node), pageInfo });
      if (!state.client) goLive();
    }
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return endSession();
    // A refused or unknown id reads like a missing ticket: nothing tells the two apart.
    if (error.code === "NOT_FOUND" || error.code === "FORBIDDEN") Object.assign(state, { notFound: true, ticket: null });
    else $("#ticket-error").textContent = `${t("failed")}: ${error.message}`;
  }
  render();
}

async function loadMore() {
  try {
    const { ticket } = await portal.request("ticket", { number, first: PAGE_SIZE, after: state.pageInfo.endCursor });
    if (!ticket) return load();
    state.comments.push(...ticket.comments.edges.map((edge) => edge.node));
    state.pageInfo = ticket.comments.pageInfo;
  } catch (error) {
    $("#ticket-error").textContent = `${t("failed")}: ${error.message}`;
  }
  render();
}

function endSession() {
  stopLive();
  portal.signOut();
  state.needSignIn = "signInAgain";
  portal.render();
}

// ---------------------------------------------------------------- live

function goLive() {
  state.client = new TransportWsClient({
    url: new URL("/graphql", location.href.replace(/^http/, "ws")).href,
    connectionParams: () => ({ Authorization: `Bearer ${portal.state.session.token}` }),
    onStatus: (connection) => {
      state.connection = connection;
      showConnectionState($("#connection"), connection, t);
      // Whatever happened while the socket was down (or before it first opened) is read again.
      if (connection.state === "live") reloadSoon();
    },
    onFatal: endSession,
  });
  portal.documents.then((documents) => {
    const follow = follower(state.client, documents, (errors) => {
      const list = Array.isArray(errors) ? errors : [errors];
      if (list.some((e) => e.extensions?.code === "UNAUTHENTICATED")) return endSession();
      $("#ticket-error").textContent = list.map((e) => e.message).join("; ");
    });
    // Variables are read at every (re)subscribe: after a reconnect the feed resumes where it was.
    follow("events", () => ({ ticketId: state.ticket.id, after: state.cursor }), ({ ticketEvents }) => {
      state.cursor = ticketEvents.cursor;
      reloadSoon();
    });
  });
}

function stopLive() {
  state.client?.dispose();
  state.client = null;
}

// Bursts of events (a reply that also changes the status) make one read.
function reloadSoon() {
  clearTimeout(state.reload);
  state.reload = setTimeout(load, 200);
}

// ---------------------------------------------------------------- acting

// Sends a mutation on the ticket and reads the ticket again; its userErrors are shown. The
// outcome: "done", "refused" (userErrors: nothing was written) or "failed" (unknown).
async function act(send, field, form) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("#ticket-error").textContent = "";
  state.notice = "";
  let outcome = "failed";
  try {
    const payload = (await send())[field];
    outcome = payload.userErrors.length ? "refused" : "done";
    if (outcome === "refused") $("#ticket-error").textContent = userErrorText(payload.userErrors);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return endSession();
    $("#ticket-error").textContent = `${t("failed")}: ${error.message}`;
  } finally {
    button.disabled = false;
  }
  await load();
  return outcome;
}

async function reply(event) {
  event.preventDefault();
  const form = event.target;
  const body = form.elements.body.value.trim();
  if (!body) return;
  const files = [...form.elements.files.files];
  const variables = { ticketId: state.ticket.id, body, idempotencyKey: state.replyKey, attachments: null };
  const send = files.length
    ? () => portal.upload("reply", { ...variables, attachments: files.map(() => null) },
      Object.fromEntries(files.map((file, i) => [`variables.attachments.${i}`, file])))
    : () => portal.request("reply", variables);
  const outcome = await act(send, "addCustomerReply", form);
  // Refused means nothing was written: the corrected reply is a new one. A failure may have
  // been written, so sending it again keeps the key.
  if (outcome !== "failed") state.replyKey = randomKey();
  if (outcome === "done") {
    form.reset();
    state.notice = "replySent";
    render();
  }
}

async function reopen(event) {
  event.preventDefault();
  const form = event.target;
  const reason = form.elements.reason.value.trim() || null;
  if ((await act(() => portal.request("reopen", { id: state.ticket.id, reason }), "reopenTicket", form)) === "done") {
    form.reset();
    state.notice = "reopened";
    render();
  }
}

async function rate(event) {
  event.preventDefault();
  const form = event.target;
  const score = Number(new FormData(form).get("score"));
  if (!score) return;
  const comment = form.elements.comment.value.trim() || null;
  if ((await act(() => portal.request("rate", { id: state.ticket.id, score, comment }), "rateTicket", form)) === "done") {
    state.notice = "thanks";
    render();
  }
}

// ---------------------------------------------------------------- rendering

function render() {
  $("#need-sign-in").hidden = !state.needSignIn;
  $("#need-sign-in-text").textContent = state.needSignIn ? t(state.needSignIn) : "";
  $("#not-found").hidden = Boolean(state.needSignIn) || !state.notFound;
  const ticket = state.needSignIn || state.notFound ? null : state.ticket;
  $("#ticket").hidden = !ticket;
  if (!ticket) return;
  document.title = `#${ticket.number} ${ticket.subject}`;
  $("#ticket").dataset.status = ticket.status;
  $("#ticket-title").textContent = `#${ticket.number} ${ticket.subject}`;
  $("#ticket-status").textContent = t(ticket.status);
  $("#ticket-status").dataset.status = ticket.status;
  showConnectionState($("#connection"), state.connection, t);
  const facts = [
    ["created", dateTime(ticket.createdAt, t)],
    ["priority", t(ticket.priority)],
    ["category", ticket.category ? t(`category_${ticket.category}`) : null],
    ["resolvedAt", ticket.resolvedAt ? dateTime(ticket.resolvedAt, t) : null],
  ].filter(([, value]) => value);
  $("#ticket-facts").replaceChildren(...facts.flatMap(([key, value]) => [element("dt", "", t(key)), element("dd", "", value)]));
  $("#ticket-description").textContent = ticket.description;
  // The files sent with the request itself: those on no comment of the thread.
  const onComments = new Set(state.comments.flatMap((c) => c.attachments.map((a) => a.id)));
  $("#ticket-files").replaceChildren(...ticket.attachments.filter((a) => !onComments.has(a.id)).map(fileItem));
  $("#thread").replaceChildren(...state.comments.map(message));
  $("#thread-empty").hidden = state.comments.length > 0;
  $("#thread-more").hidden = !state.pageInfo?.hasNextPage;

  const resolved = ticket.status === "RESOLVED" || ticket.status === "CLOSED";
  $("#rating").hidden = !resolved || Boolean(ticket.satisfaction);
  $("#rated").hidden = !ticket.satisfaction;
  $("#rated").textContent = ticket.satisfaction ? t("rated", ticket.satisfaction.score) : "";
  $("#reopen").hidden = ticket.status !== "RESOLVED";
  $("#reply").hidden = ticket.status === "CLOSED";
  $("#closed-final").hidden = ticket.status !== "CLOSED";
  $("#ticket-notice").textContent = state.notice ? t(state.notice) : "";
}

function message(comment) {
  const mine = Boolean(comment.authorCustomer);
  const item = element("li", mine ? "message mine" : "message");
  item.dataset.commentId = comment.id;
  const head = element("div", "message-head");
  const author = comment.authorAgent?.name ?? (mine ? `${comment.authorCustomer.name} (${t("you")})` : t("agent"));
  const time = element("time", "", dateTime(comment.createdAt, t));
  time.dateTime = comment.createdAt;
  head.append(element("strong", "", author), time);
  const files = element("ul", "files");
  files.append(...comment.attachments.map(fileItem));
  item.append(head, element("p", "body", comment.body), files);
  return item;
}

function fileItem(attachment) {
  const item = element("li", "file");
  const button = element("button", "link", `📎 ${attachment.filename}`);
  button.type = "button";
  button.dataset.attachmentId = attachment.id;
  button.title = t("download");
  button.addEventListener("click", () =>
    download(attachment, portal.state.session.token).catch((error) => ($("#ticket-error").textContent = error.message)),
  );
  item.append(button, element("span", "muted", ` ${fileSize(attachment.size)}`));
  return item;
}

function scoreChoice(score) {
  const label = element("label", "star");
  const input = document.createElement("input");
  Object.assign(input, { type: "radio", name: "score", value: String(score), required: true });
  label.append(input, element("span", "", `${score} ★`));
  return label;
}

// ---------------------------------------------------------------- start

$("#rate-score").replaceChildren(...SCORES.map(scoreChoice));
$("#reply-form").addEventListener("submit", reply);
$("#reopen-form").addEventListener("submit", reopen);
$("#rate-form").addEventListener("submit", rate);
$("#thread-more").addEventListener("click", loadMore);
portal.render();
if (!state.needSignIn && !state.notFound) load();
