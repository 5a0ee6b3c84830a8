// survey.html?token=…, the page the survey mail (sent when a ticket is resolved) opens:
// anonymous, single-use. A score of 1–5, optional sub-scores for speed, professionalism and
// attitude (速度 / 专业度 / 态度), and a comment.
import { $, element, openPortal } from "./portal.js";

const SCORES = [1, 2, 3, 4, 5];
const SUB_SCORES = ["speed", "professionalism", "attitude"];

const portal = openPortal("survey", { submit: "SubmitSurvey.graphql" }, () => render());
const { t } = portal;
const surveyToken = new URLSearchParams(location.search).get("token");
// The token stays in the page, not in the address bar or the history.
history.replaceState(null, "", location.pathname);
let outcome = surveyToken ? null : "surveyMissing"; // null while the form is open

function render() {
  $("#survey-form").hidden = Boolean(outcome);
  $("#survey-done").hidden = !outcome;
  $("#survey-done").textContent = outcome ? t(outcome) : "";
  $("#survey-done").className = outcome === "surveyThanks" || outcome === "surveyDuplicate" ? "notice" : "error";
  for (const name of SUB_SCORES) $(`#sub-${name}`).textContent = t(name);
  for (const option of document.querySelectorAll("option[data-unrated]")) option.textContent = `— ${t("optional")}`;
}

function buildForm() {
  $("#survey-score").append(
    ...SCORES.map((score) => {
      const label = element("label", "star");
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "score", value: String(score), required: true });
      label.append(input, element("span", "", `${score} ★`));
      return label;
    }),
  );
  $("#survey-sub").append(
    ...SUB_SCORES.map((name) => {
      const label = element("label");
      const select = document.createElement("select");
      select.name = name;
      const none = element("option");
      none.value = "";
      none.dataset.unrated = "";
      select.append(none, ...SCORES.map((score) => new Option(`${score} ★`, String(score))));
      const caption = element("span");
      caption.id = `sub-${name}`;
      label.append(caption, select);
      return label;
    }),
  );
}

async function submit(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const optional = (name) => (form.get(name) ? Number(form.get(name)) : null);
  const button = event.target.querySelector("button[type=submit]");
  button.disabled = true;
  $("#survey-error").textContent = "";
  try {
    const payload = (
      await portal.request("submit", {
        surveyToken,
        score: Number(form.get("score")),
        speed: optional("speed"),
        professionalism: optional("professionalism"),
        attitude: optional("attitude"),
        comment: String(form.get("comment")).trim() || null,
      })
    ).submitSatisfactionSurvey;
    const codes = payload.userErrors.map((e) => e.code);
    if (!codes.length) outcome = "surveyThanks";
    else if (codes.includes("DUPLICATE")) outcome = "surveyDuplicate";
    // A forged or expired token is INVALID_INPUT on surveyToken; any other refusal is shown as is.
    else if (payload.userErrors.some((e) => e.field.includes("surveyToken"))) outcome = "surveyInvalid";
    else $("#survey-error").textContent = payload.userErrors.map((e) => e.message).join("; ");
  } catch (error) {
    $("#survey-error").textContent = `${t("failed")}: ${error.message}`;
  } finally {
    button.disabled = false;
  }
  render();
}

buildForm();
$("#survey-form").addEventListener("submit", submit);
portal.render();
