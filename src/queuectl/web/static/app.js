// queuectl dashboard: live updates and action feedback. No inline script anywhere (the
// Content-Security-Policy forbids it); job text only ever reaches the page as textContent.
(function () {
  "use strict";
  var body = document.body;
  var live = document.getElementById("live");
  var flash = document.getElementById("flash");

  function setLive(state, text) {
    if (!live) return;
    live.className = "live " + state;
    live.textContent = text;
  }

  function refresh() {
    if (window.htmx) window.htmx.trigger(body, "queuectl-refresh");
  }

  function showError(text) {
    if (!flash) return;
    flash.textContent = text;
    flash.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(function () { flash.hidden = true; }, 6000);
  }

  // Server-sent events: one "change" event whenever what this page shows has moved.
  var src = body.getAttribute("data-events");
  if (src && window.EventSource) {
    var stream = new EventSource(src);
    stream.addEventListener("open", function () { setLive("on", "live"); });
    stream.addEventListener("error", function () { setLive("off", "reconnecting"); });
    stream.addEventListener("change", refresh);
  }

  // A job's output box: it opens at the bottom while the job runs, and across live updates
  // it stays at the bottom while the reader keeps it there, or where the reader scrolled.
  var OUTPUT = "job-output";
  var BOTTOM_SLACK_PX = 4; // this close to the end counts as at the bottom (zoom rounding)
  var held = null; // the box just before a live update replaced it

  function atBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight <= BOTTOM_SLACK_PX;
  }

  function following(box) {
    if (box && box.hasAttribute("data-following")) box.scrollTop = box.scrollHeight;
  }

  following(document.getElementById(OUTPUT));
  body.addEventListener("htmx:beforeSwap", function () {
    var box = document.getElementById(OUTPUT);
    held = box ? { bottom: atBottom(box), top: box.scrollTop } : null;
  });
  body.addEventListener("htmx:afterSwap", function () {
    var box = document.getElementById(OUTPUT);
    if (box && held) box.scrollTop = held.bottom ? box.scrollHeight : held.top;
    else following(box);
    held = null;
  });

  // "in 4h59m" is true only when it is written, and the store sees no change as the time
  // passes: while the page shows such a time, its live part is fetched again now and then.
  var WHEN_REFRESH_MS = 5000;
  setInterval(function () {
    if (!document.hidden && document.querySelector(".when")) refresh();
  }, WHEN_REFRESH_MS);

  // Retry / cancel buttons post to the JSON API; report refusals, refresh on success.
  body.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var verb = (event.detail.requestConfig || {}).verb;
    if (!xhr || verb !== "post") return;
    if (event.detail.successful) {
      flash.hidden = true;
      refresh();
      return;
    }
    var message = "request failed (" + xhr.status + ")";
    try { message = JSON.parse(xhr.responseText).error || message; } catch (e) { /* not JSON */ }
    showError(message);
  });
  body.addEventListener("htmx:sendError", function () { showError("dashboard unreachable"); });

  // The jobs page acts on every job its filter matches: a dry run says how many first, and
  // only a confirmation acts (each job the action still applies to; others are skipped).
  var bulk = document.getElementById("bulk");
  if (bulk) {
    var confirmBox = document.getElementById("bulk-confirm");
    var countText = document.getElementById("bulk-count");
    var done = document.getElementById("bulk-done");
    var pending = null; // the action the count was shown for

    var bulkPost = function (action, dryRun) {
      var doc = { action: action, filter: JSON.parse(bulk.getAttribute("data-filter")),
                  dry_run: dryRun };
      return fetch("/api/jobs/bulk", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(doc)
      }).then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) throw new Error(answer.error || "request failed (" + response.status + ")");
          return answer;
        });
      });
    };
    var jobs = function (n) { return n + (n === 1 ? " job" : " jobs"); };
    var failed = function (error) { pending = null; showError(error.message || "dashboard unreachable"); };

    bulk.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) return;
      if (button.id === "bulk-dismiss") {
        pending = null;
        confirmBox.hidden = true;
        return;
      }
      if (button.id === "bulk-go") {
        if (!pending) return;
        var action = pending;
        pending = null;
        confirmBox.hidden = true;
        bulkPost(action.name, false).then(function (answer) {
          done.textContent = jobs(answer.count) + " " + action.done +
            (answer.skipped ? " (" + answer.skipped + " skipped: changed meanwhile)" : "");
          done.hidden = false;
          refresh();
        }, failed);
        return;
      }
      var name = button.getAttribute("data-bulk");
      if (!name) return;
      var verb = button.getAttribute("data-verb");
      var past = button.getAttribute("data-done");
      done.hidden = true;
      bulkPost(name, true).then(function (answer) {
        countText.textContent = answer.count
          ? jobs(answer.count) + " match: " + verb + " them?"
          : "No job this filter matches can be " + past + ".";
        pending = answer.count ? { name: name, done: past } : null;
        document.getElementById("bulk-go").hidden = !answer.count;
        confirmBox.hidden = false;
      }, failed);
    });
  }
})();
