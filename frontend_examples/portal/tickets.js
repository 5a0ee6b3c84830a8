// "My tickets": the signed-in customer's own requests, newest first, each linking to its page.
import { $, dateTime, element, openPortal } from "./portal.js";

const portal = openPortal("tickets", { myTickets: "MyTickets.graphql" }, () => render());
const { t } = portal;
const list = { edges: [], totalCount: 0, pageInfo: null };
let needSignIn = portal.state.session ? null : "signInFirst";

async function load({ more = false } = {}) {
  try {
    const after = more ? list.pageInfo?.endCursor : null;
    const { currentCustomer } = await portal.request("myTickets", { first: 20, after });
    if (!currentCustomer) return endSession();
    const page = currentCustomer.tickets;
    list.edges = more ? [...list.edges, ...page.edges] : page.edges;
    list.totalCount = page.totalCount;
    list.pageInfo = page.pageInfo;
    $("#tickets-error").textContent = "";
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return endSession();
    $("#tickets-error").textContent = `${t("failed")}: ${error.message}`;
  }
  render();
}

function endSession() {
  portal.signOut();
  needSignIn = "signInAgain";
  portal.render();
}

function render() {
  $("#need-sign-in").hidden = !needSignIn;
  $("#need-sign-in-text").textContent = needSignIn ? t(needSignIn) : "";
  $("#tickets").hidden = Boolean(needSignIn);
  if (needSignIn) return;
  $("#tickets-lead").textContent = t("ticketsLead", portal.state.session.customer.name);
  $("#ticket-rows").replaceChildren(...list.edges.map(({ node }) => row(node)));
  $("#ticket-table").hidden = list.edges.length === 0;
  $("#tickets-summary").textContent = list.edges.length ? t("ticketsCount", list.edges.length, list.totalCount) : t("noTickets");
  $("#tickets-more").hidden = !list.pageInfo?.hasNextPage;
}

function row(ticket) {
  const tr = element("tr");
  tr.dataset.number = String(ticket.number);
  const link = element("a", "", ticket.subject);
  link.href = `./ticket.html?number=${ticket.number}`;
  const status = element("span", "badge", t(ticket.status));
  status.dataset.status = ticket.status;
  const cells = [element("td", "", `#${ticket.number}`), element("td"), element("td"), element("td", "", dateTime(ticket.updatedAt, t))];
  cells[1].append(link);
  cells[2].append(status);
  tr.append(...cells);
  return tr;
}

$("#tickets-more").addEventListener("click", () => load({ more: true }));
portal.render();
if (!needSignIn) load();
