// Reloads a page that follows a scoring run while the run is pending or running: the
// element marked data-refresh names the seconds to wait.
(function () {
  "use strict";
  var marked = document.querySelector("[data-refresh]");
  if (!marked) {
    return;
  }
  var seconds = parseInt(marked.getAttribute("data-refresh"), 10) || 3;
  window.setTimeout(function () {
    window.location.reload();
  }, seconds * 1000);
})();
