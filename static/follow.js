// What a page shows of work that takes a while.
// - An element marked data-refresh reloads the page after that many seconds, while the work
//   it follows (a scoring run, an import) is pending or running.
// - A form marked data-busy shows its text and disables its buttons once sent: an upload,
//   or an import run as the request waits on the embedded default, takes seconds.
(function () {
  "use strict";
  var marked = document.querySelector("[data-refresh]");
  if (marked) {
    var seconds = parseInt(marked.getAttribute("data-refresh"), 10) || 3;
    window.setTimeout(function () {
      window.location.reload();
    }, seconds * 1000);
  }
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button").forEach(function (button) {
        button.disabled = true;
      });
      var state = form.querySelector(".busy-state");
      if (state) {
        state.textContent = form.getAttribute("data-busy");
        state.hidden = false;
      }
    });
  });
})();
