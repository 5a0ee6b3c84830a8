// The portal's home: sign in by email (a one-time link is mailed), or write to us, or read the
// help centre first.
import { openPortal } from "./portal.js";
import { listenForLinkRequests } from "./sign-in-link.js";

const portal = openPortal("home", { requestSignIn: "RequestSignIn.graphql" }, () => showSent());
const showSent = listenForLinkRequests(portal);
portal.render();
