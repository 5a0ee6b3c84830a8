// sign-in.html?token=…, the page the mailed link opens: trades the link's token for a customer
// session, keeps it in the tab's sessionStorage and goes on to "my tickets". A used or expired
// link says so and offers a new one.
import { $, openPortal } from "./portal.js";
import { listenForLinkRequests } from "./sign-in-link.js";

const portal = openPortal(
  "signIn",
  { signIn: "CustomerSignIn.graphql", requestSignIn: "RequestSignIn.graphql" },
  () => render(),
);
const showSent = listenForLinkRequests(portal);
const linkToken = new URLSearchParams(location.search).get("token");
// The token leaves the address bar (and the history) at once: it is a credential until used.
history.replaceState(null, "", location.pathname);
let outcome = linkToken ? "signingIn" : "linkMissing";
let problem = "";

function render() {
  $("#sign-in-status").textContent = [portal.t(outcome), problem].filter(Boolean).join(" ");
  $("#sign-in-status").className = outcome === "signingIn" ? "" : "error";
  $("#link-refused").hidden = outcome === "signingIn";
  showSent();
}

async function signIn() {
  try {
    const payload = (await portal.request("signIn", { linkToken })).customerSignIn;
    if (payload.token) {
      portal.signIn({ token: payload.token, customer: payload.customer });
      location.replace("./tickets.html");
      return;
    }
    outcome = "linkRefused";
  } catch (error) {
    outcome = "failed";
    problem = error.message;
  }
  render();
}

portal.render();
if (linkToken) signIn();
