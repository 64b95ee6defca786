// What a page shows of work that takes a while.
// - An element marked data-refresh loads the page again after that many seconds, while the
//   work it follows (a scoring run, an import, an analysis) is pending or running: by a GET
//   of its address (a page answering a refused form must not send the form again), and
//   never once the user types in a form or sends one (what they typed would be lost, an
//   upload cut off).
// - A form marked data-busy shows its text and disables its buttons once sent: an upload,
//   or an import run as the request waits on the embedded default, takes seconds.
(function () {
  "use strict";
  var marked = document.querySelector("[data-refresh]");
  var timer = null;
  if (marked) {
    var seconds = parseInt(marked.getAttribute("data-refresh"), 10) || 3;
    timer = window.setTimeout(function () {
      window.location.replace(window.location.pathname + window.location.search);
    }, seconds * 1000);
  }
  function stayOnPage() {
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
  }
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("input", stayOnPage);
    form.addEventListener("change", stayOnPage);
    form.addEventListener("submit", stayOnPage);
  });
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
