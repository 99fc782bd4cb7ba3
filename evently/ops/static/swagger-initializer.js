// Starts Swagger UI on the OpenAPI document the page names. A file of its own,
// not an inline script, so the docs page's CSP needs no 'unsafe-inline'.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Keeps the bearer token you enter under "Authorize" across page reloads.
    persistAuthorization: true,
    // Its default shows a badge fetched from validator.swagger.io: a request to another origin.
    validatorUrl: null,
  });
});
