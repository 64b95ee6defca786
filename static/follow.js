// What a page shows of work that takes a while.
// - An element marked data-refresh loads the page again after that many seconds, while the
//   work it follows (a scoring run, an import, an analysis) is pending or running: by a GET
//   of its address (a page answering a refused form must not send the form again), and
//   never once the user types in a form or sends one (what they typed would be lost, an
//   upload cut off). With data-refresh-state, the address of the work's state (JSON:
//   `following`, and `progress` by name), it asks that instead, every that many seconds,
//   shows the progress in the elements marked data-progress and data-progress-text with
//   the name, and loads the page again once the work is no longer followed: a page whose
//   every reading is audited (a dossier) is read again once, not every few seconds.
// - A form marked data-busy shows its text and disables its buttons once sent: an upload,
//   or an import run as the request waits on the embedded default, takes seconds.
(function () {
  "use strict";
  var marked = document.querySelector("[data-refresh]");
  var timer = null;
  function reload() {
    window.location.replace(window.location.pathname + window.location.search);
  }
  function showProgress(progress) {
    Object.keys(progress).forEach(function (name) {
      document.querySelectorAll('[data-progress="' + name + '"]').forEach(function (bar) {
        bar.value = progress[name];
        bar.textContent = progress[name] + " %";
      });
      document.querySelectorAll('[data-progress-text="' + name + '"]').forEach(function (text) {
        text.textContent = progress[name];
      });
    });
  }
  function askState(address, seconds) {
    timer = window.setTimeout(function () {
      fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
          // Signed out (sent to the sign-in page), or the entity hidden since: the page, read
          // again, says which. A server busy or failing for a moment is asked again.
          if (response.redirected || response.status === 403 || response.status === 404 || (response.ok && !json)) {
            return { following: false };
          }
          return response.ok ? response.json() : { following: true, progress: {} };
        })
        .then(function (state) {
          if (timer === null) {
            return; // the user began typing meanwhile
          }
          if (!state.following) {
            reload();
            return;
          }
          showProgress(state.progress || {});
          askState(address, seconds);
        })
        .catch(function () {
          if (timer !== null) {
            askState(address, seconds); // the server was unreachable for a moment
          }
        });
    }, seconds * 1000);
  }
  if (marked) {
    var seconds = parseInt(marked.getAttribute("data-refresh"), 10) || 3;
    var state = marked.getAttribute("data-refresh-state");
    if (state) {
      askState(state, seconds);
    } else {
      timer = window.setTimeout(reload, seconds * 1000);
    }
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
