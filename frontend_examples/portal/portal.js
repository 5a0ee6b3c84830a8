// What the customer portal's pages share: the language, the customer's session (the token from
// customerSignIn, kept in the tab's sessionStorage), the header, GraphQL requests with the
// page's .graphql documents (multipart when files go along), attachments fetched with the
// token, and text-only rendering. Each page calls openPortal with its name and documents.
import { chooseLanguage, listenForLanguage, loadDocuments, readSession, requester, showLanguage, translator, uploader } from "../shared/graphql-page.js";
import { LABELS } from "./labels.js";

const SESSION_KEY = "helpdesk.portal.session";
const LANGUAGE_KEY = "helpdesk.portal.language";

export const $ = (selector) => document.querySelector(selector);

// page: the page's name (its title is the label title_<page>); files: {name: file of a .graphql document};
// render: the page's own rendering, called again when the language changes.
export function openPortal(page, files, render) {
  const state = { language: chooseLanguage(LANGUAGE_KEY, LABELS), session: readSession(SESSION_KEY) };
  const translate = translator(LABELS, () => state.language);
  const t = (key, ...args) => translate(key === "title" ? `title_${page}` : key, ...args);
  const documents = loadDocuments(files, import.meta.url);
  documents.catch(() => {}); // a page that never sends a document must not report the failure twice
  const token = () => state.session?.token;
  const portal = {
    state,
    t,
    documents,
    request: requester(documents, token),
    upload: uploader(documents, token),
    // The session from customerSignIn: {token, customer: {id, name, email}}.
    signIn(session) {
      state.session = session;
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    },
    signOut() {
      state.session = null;
      sessionStorage.removeItem(SESSION_KEY);
    },
    render() {
      showLanguage(state.language, t);
      const customer = state.session?.customer;
      for (const node of document.querySelectorAll("[data-signed-in]")) node.hidden = !customer;
      $("#who").textContent = customer ? customer.name : "";
      render();
    },
  };
  listenForLanguage(LANGUAGE_KEY, (language) => (state.language = language), portal.render);
  $("#sign-out").addEventListener("click", () => {
    portal.signOut();
    location.assign("./index.html");
  });
  return portal;
}

// A random key, fresh per call: crypto.randomUUID exists only on https and localhost pages.
export function randomKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Everything shown comes from the server or the address bar: text nodes only, never HTML.
export function element(tag, className, text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text;
  return node;
}

export function dateTime(iso, t) {
  return iso ? new Date(iso).toLocaleString(t("locale"), { dateStyle: "medium", timeStyle: "short", hour12: false }) : "—";
}

export function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// An attachment's bytes need the bearer token, which a plain link cannot send: fetch them, then
// hand the browser a blob: address to save under the file's name.
export async function download(attachment, token) {
  const response = await fetch(new URL(attachment.url, location.href), { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`${attachment.filename}: HTTP ${response.status}`);
  const address = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = address;
  link.download = attachment.filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(address), 60_000);
}

// The messages of a payload's userErrors, joined.
export function userErrorText(errors) {
  return errors.map((e) => e.message).join("; ");
}
