// The CSRF token Django set as a cookie, for the pages' POST and DELETE calls to the API
// (sent as X-CSRFToken). Loaded before each page's own script.
window.hitlCsrfToken = function () {
  "use strict";
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
};
