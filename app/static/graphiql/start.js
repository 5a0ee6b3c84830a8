// Starts GraphiQL on this server's /graphql (HTTP, and graphql-transport-ws for subscriptions).
// Every script comes from the package itself (app/static/graphiql/), so GraphiQL works offline;
// the page's Content-Security-Policy allows no other source. A query and its variables
// are kept in the URL (?q=&variables=) so a link shares them, as Strawberry's page does (not
// ?query=, which would make GET /graphql run the query instead of serving this page).
(function () {
  const endpoint = new URL(document.currentScript.dataset.endpoint, location.href);
  const subscriptionUrl = new URL(endpoint);
  subscriptionUrl.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  const parameters = new URLSearchParams(location.search);
  function remember(name, value) {
    if (value) parameters.set(name, value);
    else parameters.delete(name);
    history.replaceState(null, "", parameters.size ? `?${parameters}` : location.pathname);
  }

  const fetcher = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: subscriptionUrl.href });
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: "# Helpdesk GraphQL API: Ctrl-Enter runs the query; the Docs button lists every type.\n# Log in with the `login` mutation, then add the header {\"Authorization\": \"Bearer <token>\"}.\n{\n  __typename\n}\n",
      query: parameters.get("q") ?? undefined,
      variables: parameters.get("variables") ?? undefined,
      onEditQuery: (query) => remember("q", query),
      onEditVariables: (variables) => remember("variables", variables),
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
