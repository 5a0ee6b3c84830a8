// The demo's sent mail: what `helpdesk serve --demo` caught in its local SMTP sink, newest first,
// so a newcomer sees the customer's side of every reply and acknowledgement (threading headers
// included) without a mail server. Signs in with the Login document beside this file, then reads
// GET /demo/mail with the session's token.
import { chooseLanguage, listenForLanguage, loadDocuments, loginHandler, readSession, requester, showLanguage, translator } from "../shared/graphql-page.js";

const SESSION_KEY = "helpdesk.mail.session";
const LANGUAGE_KEY = "helpdesk.mail.language";
const REFRESH_MS = 5000;

const LABELS = {
  en: {
    title: "Sent mail (demo)", logout: "Sign out", signIn: "Sign in", email: "Email", password: "Password",
    loginFailed: "Sign-in failed", refresh: "Refresh",
    intro: "Every message the helpdesk sent while running with --demo: agents' replies and acknowledgements, as the customer receives them.",
    none: "Nothing sent yet. Reply publicly to a ticket that came by mail, in the console, and it shows here.",
    count: (n) => `${n} message${n === 1 ? "" : "s"}, refreshed every 5 s`,
    notDemo: "This server is not running with --demo: it has no mail sink to show.",
    from: "From", to: "To", date: "Date", messageId: "Message-ID", inReplyTo: "In-Reply-To", references: "References",
    attachments: "Attachments", automatic: "automatic",
  },
  zh: {
    title: "已发送邮件（演示）", logout: "退出", signIn: "登录", email: "邮箱", password: "密码",
    loginFailed: "登录失败", refresh: "刷新",
    intro: "以 --demo 运行时系统发出的所有邮件：客服回复与自动确认，即客户实际收到的样子。",
    none: "还没有发出邮件。在工作台里公开回复一张来自邮件的工单，邮件就会显示在这里。",
    count: (n) => `共 ${n} 封，每 5 秒刷新`,
    notDemo: "此服务器不是以 --demo 运行的，没有可显示的邮件。",
    from: "发件人", to: "收件人", date: "日期", messageId: "Message-ID", inReplyTo: "In-Reply-To", references: "References",
    attachments: "附件", automatic: "自动回复",
  },
};

const $ = (selector) => document.querySelector(selector);
const state = { language: chooseLanguage(LANGUAGE_KEY, LABELS), session: readSession(SESSION_KEY), messages: null, error: "" };
const t = translator(LABELS, () => state.language);
const request = requester(loadDocuments({ login: "Login.graphql" }, import.meta.url), () => state.session?.token);
let timer = null;

async function load() {
  try {
    const response = await fetch(new URL("/demo/mail", location.href), {
      headers: { Authorization: `Bearer ${state.session.token}` },
    });
    if (response.status === 401) return signOut();
    if (response.status === 404) {
      state.error = t("notDemo");
      state.messages = [];
    } else {
      state.error = "";
      state.messages = (await response.json()).messages;
    }
  } catch (error) {
    state.error = error.message;
  }
  render();
}

function open() {
  clearInterval(timer);
  timer = setInterval(load, REFRESH_MS);
  return load();
}

function signOut() {
  clearInterval(timer);
  state.session = null;
  state.messages = null;
  sessionStorage.removeItem(SESSION_KEY);
  render();
}

function field(list, label, value) {
  if (!value) return;
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

function messageItem(mail) {
  const item = document.createElement("li");
  const article = document.createElement("article");
  article.dataset.messageId = mail.messageId;
  const heading = document.createElement("h2");
  heading.textContent = mail.subject;
  if (mail.autoSubmitted && mail.autoSubmitted !== "no") {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = t("automatic");
    heading.append(badge);
  }
  const headers = document.createElement("dl");
  field(headers, t("from"), mail.from);
  field(headers, t("to"), mail.to);
  field(headers, t("date"), mail.date);
  field(headers, t("messageId"), mail.messageId);
  field(headers, t("inReplyTo"), mail.inReplyTo);
  field(headers, t("references"), mail.references);
  field(headers, t("attachments"), mail.attachments.map((a) => a.filename).join(", "));
  const body = document.createElement("pre");
  body.append(...withLinks(mail.text));
  article.append(heading, headers, body);
  item.append(article);
  return item;
}

// The web addresses in a mail's text (a sign-in or survey link, say) become links; the rest
// stays text. Trailing punctuation ends a sentence, not the address.
const ADDRESS = /https?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]}'。，）]/g;

function withLinks(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(ADDRESS)) {
    const link = document.createElement("a");
    link.href = match[0];
    link.textContent = match[0];
    parts.push(text.slice(last, match.index), link);
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

function render() {
  showLanguage(state.language, t);
  const signedIn = Boolean(state.session);
  $("#login").hidden = signedIn;
  $("#mail").hidden = !signedIn;
  $("#logout").hidden = !signedIn;
  $("#refresh").hidden = !signedIn;
  if (!signedIn || state.messages === null) return;
  $("#mail-status").textContent = state.error || (state.messages.length ? t("count", state.messages.length) : t("none"));
  $("#messages").replaceChildren(...state.messages.map(messageItem));
}

$("#login-form").addEventListener(
  "submit",
  loginHandler({ request, sessionKey: SESSION_KEY, errorElement: $("#login-error"), t, open: (session) => ((state.session = session), open()) }),
);
$("#logout").addEventListener("click", signOut);
$("#refresh").addEventListener("click", load);
listenForLanguage(LANGUAGE_KEY, (language) => (state.language = language), render);
render();
if (state.session) open();
