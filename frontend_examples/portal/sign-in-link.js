// The "email me a sign-in link" form (home page, and a refused link's page). The server answers
// the same for any well-formed address, so the page always says "check your mail"; only a
// malformed address or a refusal (rate limit) shows an error.
import { $, userErrorText } from "./portal.js";

export function listenForLinkRequests(portal) {
  const { request, t } = portal;
  const form = $("#request-link-form");
  let sentTo = null;
  const show = () => {
    $("#link-sent").hidden = !sentTo;
    $("#link-sent").textContent = sentTo ? t("linkSent", sentTo) : "";
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = String(new FormData(form).get("email")).trim();
    const button = form.querySelector("button[type=submit]");
    $("#request-link-error").textContent = "";
    button.disabled = true;
    try {
      const payload = (await request("requestSignIn", { email })).requestCustomerSignIn;
      if (payload.userErrors.length) {
        sentTo = null;
        $("#request-link-error").textContent = userErrorText(payload.userErrors);
      } else {
        sentTo = email;
      }
    } catch (error) {
      sentTo = null;
      $("#request-link-error").textContent = `${t("failed")}: ${error.message}`;
    } finally {
      button.disabled = false;
    }
    show();
  });
  return show; // re-renders the message in the current language
}
