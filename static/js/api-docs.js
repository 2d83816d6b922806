// Starts Swagger UI on the API docs page (template/api_docs.html) with this app's
// OpenAPI document. A file of its own: the CSP allows no inline script.
(function () {
  "use strict";
  var root = document.getElementById("api-docs");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    // No badge from validator.swagger.io: the page talks to this origin only.
    validatorUrl: null,
    // The session cookie goes along; the CSRF header is read from GET /ws/csrf.
    withCredentials: true,
    requestInterceptor: function (request) {
      var token = window.sessionStorage.getItem("csrf-token");
      if (token && request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-CSRFToken"] = token;
      }
      return request;
    },
    responseInterceptor: function (response) {
      if (response.body && typeof response.body.csrf_token === "string") {
        window.sessionStorage.setItem("csrf-token", response.body.csrf_token);
      }
      return response;
    },
  });
}());
