// form.html, the web form: anonymous. While the customer types, suggestArticles shows articles
// that may already answer the question (debounced). One idempotency key per page load, so a
// double click or a resent request makes one ticket; files go along as a multipart request.
// Beside the standard inputs, the defined custom fields the visitor may fill in (`ticketFields`
// answers anonymous callers with those visibleToCustomer only), by type; a field of some
// categories shows only while one of them is the chosen topic. The server is the judge of every
// value: a required field is marked, not enforced here, and the server's word on a field
// (userErrors at ["input", "customFields", key]) shows beside it.
import { $, element, openPortal, randomKey, userErrorText } from "./portal.js";

const SUGGEST_AFTER_MS = 400;
const MAX_FILES = 5; // a multipart request has room for five attachments (README "Limits")

const portal = openPortal(
  "form",
  { submit: "SubmitWebForm.graphql", suggest: "SuggestArticles.graphql", fields: "TicketFields.graphql" },
  () => render(),
);
const { t } = portal;
const form = $("#web-form");
const state = { key: randomKey(), ticketNumber: null, done: false, suggestions: [], typing: null, asked: 0, fields: [] };

// ---------------------------------------------------------------- the defined custom fields

async function loadFields() {
  let definitions = [];
  try {
    definitions = (await portal.request("fields")).ticketFields;
  } catch {
    // The form still works: the server names any field it needs in its answer.
  }
  state.fields = definitions.map(fieldControl);
  $("#custom-fields").replaceChildren(...state.fields.map((f) => f.wrapper));
  render();
}

// One field: its label (the admin's text), its input by type and a place for the server's word.
// Inputs are named cf-<key>, so a key such as "email" never shadows a standard input.
function fieldControl(definition) {
  const { key, type } = definition;
  const wrapper = element("div", "custom-field");
  wrapper.dataset.field = key;
  const caption = element("span", "", definition.label);
  let control;
  if (type === "DROPDOWN") {
    control = document.createElement("select");
    const none = element("option", "", t("chooseOption"));
    none.value = "";
    none.dataset.i18n = "chooseOption";
    control.append(none, ...definition.options.map((option) => Object.assign(element("option", "", option), { value: option })));
  } else {
    control = document.createElement("input");
    // TEXT: `pattern` is RE2 syntax, which a browser's pattern attribute would read as JavaScript;
    // the server matches it, so it is not copied here.
    control.type = { NUMBER: "number", DATE: "date", CHECKBOX: "checkbox" }[type] ?? "text";
    if (type === "NUMBER") control.step = "any";
    if (type === "TEXT") control.maxLength = 2000;
  }
  control.name = `cf-${key}`;
  const error = element("p", "error field-error");
  error.id = `cf-error-${key}`;
  control.setAttribute("aria-describedby", error.id);
  const label = element("label", type === "CHECKBOX" ? "checkbox" : "");
  if (type === "CHECKBOX") label.append(control, caption);
  else label.append(caption, control);
  if (definition.requiredOnCreate) {
    control.setAttribute("aria-required", "true");
    const mark = element("span", "required-mark", "*");
    mark.title = t("requiredField");
    mark.dataset.i18nTitle = "requiredField";
    caption.append(mark);
  }
  // Changing a field answers the server's word on it; the rest stays until the next submission.
  control.addEventListener("input", () => {
    error.textContent = "";
    control.removeAttribute("aria-invalid");
  });
  wrapper.append(label, error);
  return { definition, control, wrapper, error };
}

// Shown when it applies to every category or to the chosen topic (categories are lower case).
function applies(field) {
  const { categories } = field.definition;
  return categories.length === 0 || categories.includes(form.elements.category.value);
}

// The values of the fields shown, as Ticket.customFields holds them; an empty input is left out.
function customFieldValues() {
  if (state.fields.length === 0) return null; // nothing defined for customers: as in version 1
  const values = {};
  for (const field of state.fields.filter(applies)) {
    const { control, definition } = field;
    const value =
      definition.type === "CHECKBOX" ? control.checked
      : definition.type === "NUMBER" ? (control.value === "" ? null : Number(control.value))
      : control.value.trim() || null;
    if (value !== null) values[definition.key] = value;
  }
  return values;
}

// errors: key -> messages of the fields shown; everything else is for the form's own line.
function showFieldErrors(errors) {
  for (const { definition, control, error } of state.fields) {
    const messages = errors.get(definition.key) ?? [];
    error.textContent = messages.join("; ");
    if (messages.length) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
}

// The server's userErrors split into those about a field shown (by key) and the rest.
function splitUserErrors(userErrors) {
  const shown = new Set(state.fields.filter(applies).map((f) => f.definition.key));
  const byField = new Map();
  const rest = [];
  for (const error of userErrors) {
    const [root, group, key] = error.field ?? [];
    if (root === "input" && group === "customFields" && shown.has(key)) {
      byField.set(key, [...(byField.get(key) ?? []), error.message]);
    } else {
      rest.push(error);
    }
  }
  return { byField, rest };
}

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
    customFields: customFieldValues(),
    website: String(data.get("website") ?? "") || null,
    attachments: files.length ? files.map(() => null) : null,
  };
  const variables = { input, idempotencyKey: state.key };
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("#form-error").textContent = "";
  showFieldErrors(new Map());
  try {
    const payload = (
      files.length
        ? await portal.upload("submit", variables, Object.fromEntries(files.map((file, i) => [`variables.input.attachments.${i}`, file])))
        : await portal.request("submit", variables)
    ).submitWebForm;
    if (payload.userErrors.length) {
      // Refused, so nothing was written: the corrected form is a new request with a new key.
      state.key = randomKey();
      const { byField, rest } = splitUserErrors(payload.userErrors);
      showFieldErrors(byField);
      $("#form-error").textContent = rest.length ? userErrorText(rest) : t("checkFields");
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
  for (const field of state.fields) field.wrapper.hidden = !applies(field);
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
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
form.elements.category.addEventListener("change", render);
form.addEventListener("submit", submit);
portal.render();
loadFields();
