// form.html, the web form: anonymous. While the customer types, suggestArticles shows articles
// that may already answer the question (debounced). One idempotency key per page load, so a
// double click or a resent request makes one ticket; files go along as a multipart request.
// The standard inputs only: defined custom fields are for agents to read (`ticketFields` needs
// a signed-in caller), so the form cannot know which ones to offer.
import { $, element, openPortal, randomKey, userErrorText } from "./portal.js";

const SUGGEST_AFTER_MS = 400;
const MAX_FILES = 5; // a multipart request has room for five attachments (README "Limits")

const portal = openPortal("form", { submit: "SubmitWebForm.graphql", suggest: "SuggestArticles.graphql" }, () => render());
const { t } = portal;
const form = $("#web-form");
const state = { key: randomKey(), ticketNumber: null, done: false, suggestions: [], typing: null, asked: 0 };

// ---------------------------------------------------------------- suggestions while typing

function typed() {
  clearTimeout(state.typing);
  state.typing = setTimeout(suggest, SUGGEST_AFTER_MS);
}

async function suggest() {
  const subject = form.elements.subject.value.trim();
  const description = form.elements.description.value.trim();
  const asked = ++state.asked;
  if (subject.length + description.length < 4) {
    state.suggestions = [];
    return render();
  }
  try {
    const { suggestArticles } = await portal.request("suggest", { subject: subject || description, description: description || null, first: 3 });
    if (asked !== state.asked) return; // the customer typed on: a newer question is under way
    state.suggestions = suggestArticles;
  } catch {
    state.suggestions = []; // suggestions are a help, not a step: the form works without them
  }
  render();
}

// ---------------------------------------------------------------- submitting

async function submit(event) {
  event.preventDefault();
  const data = new FormData(form);
  const files = [...form.elements.files.files];
  if (files.length > MAX_FILES) {
    $("#form-error").textContent = t("fileTooMany");
    return;
  }
  const text = (name) => String(data.get(name) ?? "").trim();
  const input = {
    name: text("name"),
    email: text("email"),
    subject: text("subject"),
    description: text("description"),
    category: text("category") || null,
    website: String(data.get("website") ?? "") || null,
    attachments: files.length ? files.map(() => null) : null,
  };
  const variables = { input, idempotencyKey: state.key };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("#form-error").textContent = "";
  try {
    const payload = (
      files.length
        ? await portal.upload("submit", variables, Object.fromEntries(files.map((file, i) => [`variables.input.attachments.${i}`, file])))
        : await portal.request("submit", variables)
    ).submitWebForm;
    if (payload.userErrors.length) {
      // Refused, so nothing was written: the corrected form is a new request with a new key.
      state.key = randomKey();
      $("#form-error").textContent = userErrorText(payload.userErrors);
    } else {
      Object.assign(state, { done: true, ticketNumber: payload.ticketNumber });
    }
  } catch (error) {
    // The answer was lost, not necessarily the request: sending again keeps the key.
    $("#form-error").textContent = `${t("failed")}: ${error.message}`;
  } finally {
    button.disabled = false;
  }
  render();
}

// ---------------------------------------------------------------- rendering

function render() {
  form.hidden = state.done;
  $("#form-done").hidden = !state.done;
  // A form the server quietly dropped (the honeypot) has no number; it reads like any other.
  $("#form-done").textContent = state.done
    ? state.ticketNumber ? t("submitted", state.ticketNumber) : t("submittedQuietly")
    : "";
  $("#suggestions").hidden = state.done || state.suggestions.length === 0;
  $("#suggestion-list").replaceChildren(
    ...state.suggestions.map((match) => {
      const item = element("li", "suggestion");
      const link = element("a", "", match.article.title);
      link.href = `./articles.html?id=${encodeURIComponent(match.article.id)}`;
      link.target = "_blank"; // the form keeps what was typed
      link.rel = "noopener";
      item.append(link, element("p", "snippet muted", match.snippet));
      return item;
    }),
  );
}

form.elements.subject.addEventListener("input", typed);
form.elements.description.addEventListener("input", typed);
form.addEventListener("submit", submit);
portal.render();
