// What the example pages (console, wallboard, reports, portal) share: the language and its labels, the
// session kept in sessionStorage, the login form, and GraphQL over HTTP and over the websocket
// with the page's own .graphql documents. Each page passes in what differs (its storage keys,
// its labels, its documents, its state as getters); this module keeps no state of its own.

// The language saved by the page's buttons, else the browser's: Chinese for zh-*, else English.
export function chooseLanguage(storageKey, labels) {
  const saved = localStorage.getItem(storageKey);
  if (saved in labels) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

// The signed-in session ({token, agent}) this tab saved, or null.
export function readSession(storageKey) {
  try {
    return JSON.parse(sessionStorage.getItem(storageKey));
  } catch {
    return null;
  }
}

// t(key, ...args): the label in the current language, else the English one, else the key itself;
// a label that is a function is called with args.
export function translator(labels, currentLanguage) {
  return (key, ...args) => {
    const label = labels[currentLanguage()][key] ?? labels.en[key] ?? key;
    return typeof label === "function" ? label(...args) : label;
  };
}

// Marks the page's language, fills every [data-i18n] element and presses the current [data-lang] button.
export function showLanguage(language, t) {
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === language));
  }
}

// The [data-lang] buttons: a click sets its language, remembers it for the next visit and re-renders.
export function listenForLanguage(storageKey, setLanguage, render) {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => {
      setLanguage(button.dataset.lang);
      localStorage.setItem(storageKey, button.dataset.lang);
      render();
    });
  }
}

// ---------------------------------------------------------------- GraphQL over HTTP

// {name: file} -> {name: document text}; files are relative to base (the page module's import.meta.url).
export async function loadDocuments(files, base) {
  const entries = await Promise.all(
    Object.entries(files).map(async ([name, file]) => {
      const response = await fetch(new URL(file, base));
      if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
      return [name, await response.text()];
    }),
  );
  return Object.fromEntries(entries);
}

// The errors of a GraphQL answer; code is the first error's extensions.code (e.g. UNAUTHENTICATED).
export class GraphQLFailure extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.code = errors[0]?.extensions?.code;
  }
}

// request(name, variables): POSTs the named document to /graphql with the current token, if any;
// resolves to the answer's data or rejects with a GraphQLFailure. documents is the promise
// loadDocuments returned: a form submitted while the files are still loading waits for them.
export function requester(documents, token) {
  return async function request(document, variables = {}) {
    const query = (await documents)[document];
    const headers = { "Content-Type": "application/json" };
    const current = token();
    if (current) headers.Authorization = `Bearer ${current}`;
    const response = await fetch(new URL("/graphql", location.href), {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    return answerOf(response);
  };
}

// upload(name, variables, files): like request, as a GraphQL multipart request (the spec at
// github.com/jaydenseric/graphql-multipart-request-spec) carrying files, {variable path: File},
// e.g. {"variables.attachments.0": file}; the variables hold null at each of those paths.
export function uploader(documents, token) {
  return async function upload(document, variables, files) {
    const query = (await documents)[document];
    const paths = Object.keys(files);
    const body = new FormData();
    body.append("operations", JSON.stringify({ query, variables }));
    body.append("map", JSON.stringify(Object.fromEntries(paths.map((path, i) => [String(i), [path]]))));
    paths.forEach((path, i) => body.append(String(i), files[path], files[path].name));
    const current = token();
    // No Content-Type: the browser writes multipart/form-data with its boundary.
    const headers = current ? { Authorization: `Bearer ${current}` } : {};
    const response = await fetch(new URL("/graphql", location.href), { method: "POST", headers, body });
    return answerOf(response);
  };
}

async function answerOf(response) {
  // Refusals before GraphQL (400, 413, 503, ...) are short plain text: show them as they are.
  if (!response.headers.get("Content-Type")?.includes("json")) {
    throw new Error(`HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`);
  }
  const body = await response.json();
  if (body.errors?.length) throw new GraphQLFailure(body.errors);
  return body.data;
}

// ---------------------------------------------------------------- signing in

// The login form's submit handler: sends the "login" document, saves the session under sessionKey
// and hands it to open(session, form); what goes wrong is shown in errorElement.
export function loginHandler({ request, sessionKey, errorElement, t, open }) {
  return async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    errorElement.textContent = "";
    try {
      const { login } = await request("login", { email: form.get("email"), password: form.get("password") });
      if (login.userErrors.length) {
        errorElement.textContent = login.userErrors.map((e) => e.message).join("; ");
        return;
      }
      const session = { token: login.token, agent: login.agent };
      sessionStorage.setItem(sessionKey, JSON.stringify(session));
      await open(session, event.target);
    } catch (error) {
      errorElement.textContent = `${t("loginFailed")}: ${error.message}`;
    }
  };
}

// ---------------------------------------------------------------- GraphQL over the websocket

// follow(name, variables, onData): subscribes to the named document on client; returns its stop
// function. Errors in a payload and errors of the operation both go to failed.
export function follower(client, documents, failed) {
  return (document, variables, onData) =>
    client.subscribe(
      { query: documents[document], variables },
      {
        next: (payload) => (payload.errors?.length ? failed(payload.errors) : onData(payload.data)),
        error: failed,
      },
    );
}

// Shows the websocket client's state (what its onStatus reports) in element: "Live", "Reconnecting in 4s", ...
export function showConnectionState(element, connection, t) {
  element.dataset.state = connection.state;
  element.textContent =
    connection.state === "reconnecting" ? t("reconnecting", Math.ceil(connection.retryInMs / 1000)) : t(connection.state);
}
