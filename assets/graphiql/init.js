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
    "# A customer's `id` is what setRenewalOwner and endServices take.",
    "query Dashboard {",
    "  renewals(filter: { actionRequired: true }, first: 20) {",
    "    totalCount",
    "    pageInfo { hasNextPage endCursor }",
    "    nodes {",
    "      id deadline daysUntilDeadline daysUntilRenewal status",
    "      customer { id domain name renewalManager { name email } }",
    "      owner { party isDefault notifyUser { id name } }",
    "      currentMrr { amount currencyCode } renewalMrr { amount } mrrChange { amount }",
    "      productRenewals { quantity product { sku name } }",
    "      renewalOptionsUrl",
    "    }",
    "  }",
    "  viewer { users { id name email } }",
    "}",
    "",
  ].join("\n");
  // The headers editor starts with `Bearer ` and no token when the server has
  // none to give. Such a header is refused (401), schema request included, so
  // it is not sent until a token follows it: the schema, and with it the docs
  // and completion, loads without one.
  function withoutEmptyToken(input, init) {
    var headers = Object.assign({}, init && init.headers);
    Object.keys(headers).forEach(function (name) {
      var value = String(headers[name]).trim();
      if (name.toLowerCase() === "authorization" && /^(bearer)?$/i.test(value)) {
        delete headers[name];
      }
    });
    return window.fetch(input, Object.assign({}, init, { headers: headers }));
  }
  ReactDOM.createRoot(element).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({
        url: new URL(element.dataset.endpoint, window.location.origin).toString(),
        fetch: withoutEmptyToken,
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
