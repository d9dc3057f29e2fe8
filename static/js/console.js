/* The console's few behaviours: pausing live counters, showing refused htmx actions, the
   explorer's custom time range, and a new API key's copy button. */
(function () {
  "use strict";

  var PAUSE_KEY = "prepmate.console.livePaused";

  function paused() {
    try {
      return window.localStorage.getItem(PAUSE_KEY) === "1";
    } catch (e) {
      return false;
    }
  }

  function setPaused(value) {
    try {
      window.localStorage.setItem(PAUSE_KEY, value ? "1" : "0");
    } catch (e) {
      /* storage may be off: the toggle then lasts for this page only */
    }
    render(value);
  }

  var current = paused();

  function render(value) {
    current = value;
    document.querySelectorAll("[data-live-toggle]").forEach(function (button) {
      button.hidden = false;
      button.setAttribute("aria-pressed", value ? "true" : "false");
      button.textContent = value ? "Resume live updates" : "Pause live updates";
    });
    document.querySelectorAll("[data-live]").forEach(function (el) {
      el.classList.toggle("paused", value);
    });
  }

  function toast(text) {
    var box = document.getElementById("toast");
    if (!box) {
      return;
    }
    box.textContent = text;
    box.hidden = false;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () {
      box.hidden = true;
    }, 6000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-live-toggle]");
    if (button) {
      setPaused(!current);
    }
  });

  // A paused panel skips its timed polls; an explicit refresh (after "Sync now") still runs.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var triggered = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    if (current && elt && elt.hasAttribute("data-live") && !triggered) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterSwap", function () {
    render(current);
  });

  // htmx does not swap error answers: say what the server said instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var message = doc.querySelector(".error-page p");
    toast((message ? message.textContent : "The server answered " + xhr.status) +
      " (" + xhr.status + ")");
  });

  document.addEventListener("htmx:sendError", function () {
    toast("The server cannot be reached; live updates will resume when it answers.");
  });

  // Typing a from/to time in the explorer chooses the custom range (before htmx reads the form:
  // this listener captures).
  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input.form;
    if (form && form.hasAttribute("data-explorer") && (input.name === "from" || input.name === "to")) {
      var range = form.querySelector("select[name=range]");
      if (range && input.value) {
        range.value = "custom";
      }
    }
  }, true);

  // A new key's secret, shown once: the copy button puts it on the clipboard.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    var source = button && document.querySelector(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    }, function () {
      toast("The browser refused the clipboard: select the key and copy it by hand.");
    });
  });

  // The answer that shows a secret came from a POST: the history entry becomes the key list
  // (a reload or Back then asks for the list, never the POST again), and the secret is blanked
  // when the page is left (nothing of it stays in a back/forward cache).
  function forgetSecrets() {
    document.querySelectorAll("[data-secret]").forEach(function (el) {
      el.textContent = "";
    });
    document.querySelectorAll("[data-copy]").forEach(function (el) {
      el.hidden = true;
    });
  }

  window.addEventListener("pagehide", forgetSecrets);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      forgetSecrets();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    render(current);
    var issued = document.querySelector("[data-issued]");
    if (issued && window.history.replaceState) {
      window.history.replaceState(null, "", issued.getAttribute("data-list-url"));
    }
    if (navigator.clipboard) {
      document.querySelectorAll("[data-copy]").forEach(function (el) {
        el.hidden = false;
      });
    }
  });
})();
