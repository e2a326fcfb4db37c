// Starts GraphiQL in the page's #graphiql element. The endpoint and, in demo
// mode, the Authorization header come from the element's data attributes, so
// that the page runs no inline script: its Content-Security-Policy allows this
// origin's scripts only.
(function () {
  "use strict";
  var element = document.getElementById("graphiql");
  var authorization = element.dataset.authorization;
  // A link to the playground may carry a document to open (`?query=…`).
  var link = new URLSearchParams(window.location.search);
  var dashboard = [
    "# The renewals requiring action, by deadline. Press the run button (or Ctrl-Enter).",
    "# The token goes in the Authorization header, below: `Bearer rnw_…`.",
    "query Dashboard {",
    "  renewals(filter: { actionRequired: true }, first: 20) {",
    "    totalCount",
    "    pageInfo { hasNextPage endCursor }",
    "    nodes {",
    "      deadline daysUntilDeadline daysUntilRenewal status",
    "      customer { domain name renewalManager { name email } }",
    "      owner { party isDefault notifyUser { name } }",
    "      currentMrr { amount currencyCode } renewalMrr { amount } mrrChange { amount }",
    "      productRenewals { quantity product { sku name } }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
  ReactDOM.createRoot(element).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({
        url: new URL(element.dataset.endpoint, window.location.origin).toString(),
      }),
      defaultQuery: dashboard,
      query: link.get("query") || undefined,
      variables: link.get("variables") || undefined,
      operationName: link.get("operationName") || undefined,
      defaultHeaders: JSON.stringify(
        { Authorization: authorization || "Bearer " },
        null,
        2
      ),
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
