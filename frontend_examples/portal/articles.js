// The help centre: published articles, newest first, a search box, and one article at
// articles.html?id=… with "was this helpful?". No sign-in needed; reading an article counts a view.
import { $, element, openPortal } from "./portal.js";

const portal = openPortal(
  "articles",
  { list: "ArticleList.graphql", search: "SearchArticles.graphql", article: "Article.graphql", rate: "RateArticle.graphql" },
  () => render(),
);
const { t } = portal;
const params = new URLSearchParams(location.search);
const state = { id: params.get("id"), query: params.get("q") ?? "", items: null, article: undefined, rated: false };

async function load() {
  $("#articles-error").textContent = "";
  try {
    if (state.id) {
      state.article = (await portal.request("article", { id: state.id })).knowledgeArticle;
    } else if (state.query) {
      state.items = (await portal.request("search", { query: state.query, first: 20 })).searchArticles.map((m) => ({
        ...m.article,
        snippet: m.snippet,
      }));
    } else {
      state.items = (await portal.request("list", { first: 50 })).knowledgeArticles.edges.map((edge) => edge.node);
    }
  } catch (error) {
    $("#articles-error").textContent = `${t("failed")}: ${error.message}`;
  }
  render();
}

async function rate(event) {
  const helpful = event.target.closest("button[data-helpful]")?.dataset.helpful;
  if (!helpful || state.rated) return;
  try {
    await portal.request("rate", { id: state.article.id, helpful: helpful === "true" });
    state.rated = true;
  } catch (error) {
    $("#articles-error").textContent = `${t("failed")}: ${error.message}`;
  }
  render();
}

function render() {
  const reading = Boolean(state.id);
  $("#article-list").hidden = reading;
  $("#search-form").hidden = reading;
  $("#article").hidden = !state.article;
  if (reading) {
    $("#articles-empty").hidden = true;
    if (state.article) {
      $("#article-title").textContent = state.article.title;
      // Markdown shown as its text: paragraphs keep their line breaks (CSS), nothing is parsed as HTML.
      $("#article-body").textContent = state.article.body;
      $("#article-thanks").hidden = !state.rated;
      for (const button of document.querySelectorAll("#article-rating button")) button.disabled = state.rated;
    } else if (state.article === null && !$("#articles-error").textContent) {
      $("#articles-error").textContent = t("notFound");
    }
    return;
  }
  $("#search-form").elements.query.value = state.query;
  const items = state.items ?? [];
  $("#articles").replaceChildren(
    ...items.map((article) => {
      const item = element("li", "article");
      const link = element("a", "", article.title);
      link.href = `./articles.html?id=${encodeURIComponent(article.id)}`;
      item.append(link);
      if (article.snippet) item.append(element("p", "snippet muted", article.snippet));
      return item;
    }),
  );
  $("#articles-empty").hidden = state.items === null || items.length > 0;
}

$("#article-rating").addEventListener("click", rate);
$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = event.target.elements.query.value.trim();
  location.assign(query ? `./articles.html?q=${encodeURIComponent(query)}` : "./articles.html");
});
portal.render();
load();
