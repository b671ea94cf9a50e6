// This project's own: start Swagger UI on the service's OpenAPI document (no inline script, so the
// pages' Content-Security-Policy needs no 'unsafe-inline').
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
