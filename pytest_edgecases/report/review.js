// Review mode: judge the review queue one example at a time, keep the work in localStorage (keyed
// by the run), and download it as an annotation file. Every string shown comes from the report's
// own JSON (the inert template #review-data) and is written with textContent or as an option's text, never as HTML;
// images are only data: URIs (the page's CSP allows nothing else).
(function () {
  "use strict";
  var source = document.getElementById("review-data");
  var root = document.getElementById("review-mode");
  var opener = document.getElementById("review-open");
  if (!source || !root || !opener) { return; }
  var data;
  try { data = JSON.parse((source.content || source).textContent); } catch (e) { return; }
  if (!data || !data.items || !data.items.length) { return; }

  var $ = function (id) { return document.getElementById(id); };
  var NAME_KEY = "pytest-edgecases:reviewer";
  var WORK_KEY = "pytest-edgecases:review:" + data.run;
  var VERDICTS = { c: "correct", i: "incorrect", a: "ambiguous" };
  var SEVERITIES = { "1": "low", "2": "medium", "3": "high" };
  var items = data.items;
  var keyOf = function (it) { return data.suites[it.suite].file + "\n" + it.category + "\n" + it.image; };

  // -- storage: a failing localStorage (disabled, full) costs persistence, not the review ----------
  var storageOk = true;
  var load = function (key, fallback) {
    try {
      var text = window.localStorage.getItem(key);
      return text === null ? fallback : JSON.parse(text);
    } catch (e) { storageOk = false; return fallback; }
  };
  var save = function (key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { storageOk = false; }
  };
  var state = load(WORK_KEY, null);
  if (!state || typeof state !== "object" || typeof state.work !== "object" || state.work === null) {
    state = { work: {}, pos: 0, open: false, filter: "" };
  }
  var persist = function () { save(WORK_KEY, state); };
  var reviewer = load(NAME_KEY, "");
  if (typeof reviewer !== "string") { reviewer = ""; }

  // -- the list the filter leaves -------------------------------------------------------------------
  var filterSelect = $("rv-filter");
  var categories = [];
  items.forEach(function (it) { if (categories.indexOf(it.category) < 0) { categories.push(it.category); } });
  categories.forEach(function (c) { filterSelect.appendChild(new Option(c, c)); });
  if (categories.indexOf(state.filter) < 0) { state.filter = ""; }
  filterSelect.value = state.filter;
  var visible = function () {
    var out = [];
    for (var n = 0; n < items.length; n++) {
      if (!state.filter || items[n].category === state.filter) { out.push(n); }
    }
    return out;
  };
  var judged = function (w) {
    return !!(w && (w.verdict || w.severity || w.accept || w.until || w.comment));
  };
  var current = function () { return items[visible()[state.pos] || 0]; };
  var work = function (it) {
    var k = keyOf(it);
    if (!state.work[k] || typeof state.work[k] !== "object") { state.work[k] = {}; }
    return state.work[k];
  };

  // -- showing one example --------------------------------------------------------------------------
  var text = function (id, value) { $(id).textContent = value === null || value === undefined ? "" : String(value); };
  var pct = function (p) { return typeof p === "number" ? (p * 100).toFixed(1) + "%" : "—"; };
  var hint = function (message) { text("rv-hint", message); };
  var img = $("rv-img");
  var zoom = $("rv-zoom");
  img.addEventListener("load", function () {
    // Small images are scaled up with hard pixel edges: blurring them would hide what the model saw.
    img.classList.toggle("pixelated", img.naturalWidth < 160);
  });

  var pressed = function (group, value) {
    var buttons = root.querySelectorAll("button[data-" + group + "]");
    for (var n = 0; n < buttons.length; n++) {
      buttons[n].setAttribute("aria-pressed", String(buttons[n].getAttribute("data-" + group) === value));
    }
  };

  var counter = function () {
    var list = visible();
    var done = 0;
    list.forEach(function (n) { if (judged(state.work[keyOf(items[n])])) { done++; } });
    var all = 0;
    items.forEach(function (it) { if (judged(state.work[keyOf(it)])) { all++; } });
    text("rv-counter", done + " of " + list.length + " reviewed" +
      (state.filter ? " in " + state.filter + " (" + all + " of " + items.length + " in all)" : ""));
    $("rv-download").disabled = all === 0;
    text("rv-storage", storageOk ? "" : "This browser does not keep the work: download it before closing the tab.");
  };

  // The item's saliency maps, where it has them (report.js's overlay buttons switch what shows).
  var isImage = function (uri) { return typeof uri === "string" && uri.indexOf("data:image/") === 0; };
  var heatMaps = function (it) {
    var shown = isImage(it.img) && isImage(it.heat);
    var both = shown && isImage(it.heat_expected);
    [["rv-heat", it.heat, it.predicted, shown], ["rv-heat-expected", it.heat_expected, it.label, both]].forEach(function (h) {
      var el = $(h[0]);
      if (h[3]) { el.src = h[1]; el.alt = "saliency for " + h[2]; } else { el.removeAttribute("src"); }
      el.hidden = !h[3];
    });
    $("rv-sal").hidden = !shown;
    $("rv-sal-targets").hidden = !both;
    text("rv-sal-method", it.method ? "saliency (" + it.method + ")" : "saliency");
    var stack = $("rv-stack");
    if (!both && stack.dataset.target === "expected") {
      stack.dataset.target = "predicted";
      var targets = $("rv-sal").querySelectorAll("button[data-target]");
      for (var t = 0; t < targets.length; t++) {
        targets[t].setAttribute("aria-pressed", targets[t].getAttribute("data-target") === "predicted" ? "true" : "false");
      }
    }
  };

  var render = function () {
    var list = visible();
    if (state.pos >= list.length) { state.pos = Math.max(0, list.length - 1); }
    counter();
    var it = items[list[state.pos]];
    text("rv-position", "Example " + (state.pos + 1) + " of " + list.length);
    text("rv-reason", it.reason);
    text("rv-path", it.image);
    text("rv-category", it.category);
    text("rv-description", it.description || "—");
    text("rv-label", it.label === null ? "—" : it.label + (it.accept.length ? " (or " + it.accept.join(", ") + ")" : ""));
    text("rv-predicted", (it.predicted === null ? "—" : it.predicted) + " at " + pct(it.confidence));
    text("rv-top", it.top.length ? it.top.map(function (t) { return t[0] + " " + pct(t[1]); }).join(" · ") : "—");
    var earlier = it.votes.map(function (v) { return v[0] + ": " + v[1]; }).join(", ");
    if (it.comment) { earlier += (earlier ? " — " : "") + "“" + it.comment + "”"; }
    text("rv-earlier", earlier || "none");
    text("rv-severity-now", it.severity);
    if (typeof it.img === "string" && it.img.indexOf("data:image/") === 0) {
      img.src = it.img;
      img.alt = "The image " + it.image;
      img.hidden = false;
      zoom.disabled = false;
      text("rv-noimg", "");
    } else {
      img.removeAttribute("src");
      img.hidden = true;
      zoom.disabled = true;
      text("rv-noimg", "No large image in this report (only the first " + data.image_cap + " of the queue have one): open " + it.image + " in the suite's folder.");
    }
    heatMaps(it);
    zoom.classList.remove("zoomed");
    zoom.setAttribute("aria-pressed", "false");
    var w = state.work[keyOf(it)] || {};
    pressed("verdict", w.verdict || "");
    pressed("severity", w.severity || "");
    var accept = $("rv-accept");
    while (accept.options.length > 1) { accept.remove(1); }
    data.suites[it.suite].labels.forEach(function (lab) {
      if (lab !== it.label) { accept.appendChild(new Option(lab, lab)); }
    });
    accept.value = w.accept || "";
    $("rv-until").value = w.until || "";
    $("rv-waiver-reason").value = w.reason || "";
    $("rv-comment").value = w.comment || "";
    $("rv-prev").disabled = state.pos === 0;
    $("rv-next").disabled = state.pos >= list.length - 1;
    var suite = data.suites[it.suite];
    text("rv-where", suite.annotations.length
      ? "Put the downloaded file in " + suite.annotations[0] + " (the annotations: of " + suite.file + ") and run pytest --edgecases again."
      : suite.file + " has no annotations: folder yet: add annotations: reviews/ to it, create that folder next to it, put the downloaded file there and run pytest --edgecases again.");
    text("rv-reviewer", reviewer ? "Reviewing as " + reviewer : "");
  };

  // -- changing the review of the shown example ----------------------------------------------------
  var change = function (field, value, message) {
    var w = work(current());
    if (value === "" || value === null || value === undefined || w[field] === value && (field === "verdict" || field === "severity")) {
      delete w[field];
    } else {
      w[field] = value;
    }
    persist();
    render();
    hint(message || "");
  };
  var setVerdict = function (verdict) {
    var it = current();
    var message = "";
    if (verdict === "correct" && it.predicted !== null && it.predicted !== it.label && !work(it).accept) {
      message = "The model said " + it.predicted + ", the label is " + it.label + ": press l to accept that label too, or this counts as a regression.";
    }
    change("verdict", verdict, message);
  };
  var move = function (step) {
    var list = visible();
    var next = Math.min(list.length - 1, Math.max(0, state.pos + step));
    if (next !== state.pos) {
      state.pos = next;
      persist();
      render();
      hint("");
    }
  };

  // -- opening, the reviewer's name, the help --------------------------------------------------------
  var nameForm = $("rv-name-form");
  var open = function () {
    document.body.classList.add("reviewing");
    root.hidden = false;
    state.open = true;
    persist();
    render();
    if (!reviewer) {
      nameForm.hidden = false;
      $("rv-name").focus();
    } else {
      nameForm.hidden = true;
      $("rv-item").focus();
    }
  };
  var close = function () {
    document.body.classList.remove("reviewing");
    root.hidden = true;
    state.open = false;
    persist();
    opener.focus();
  };
  opener.hidden = false;
  opener.addEventListener("click", open);
  $("rv-close").addEventListener("click", close);
  nameForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var name = $("rv-name").value.trim();
    if (!name) { hint("Your name goes into the annotation file as reviewer: type it first."); return; }
    reviewer = name;
    save(NAME_KEY, reviewer);
    nameForm.hidden = true;
    render();
    $("rv-item").focus();
  });
  $("rv-change-name").addEventListener("click", function () {
    $("rv-name").value = reviewer;
    nameForm.hidden = false;
    $("rv-name").focus();
  });
  var help = $("rv-help");
  var helpButton = $("rv-help-button");
  var toggleHelp = function () {
    help.hidden = !help.hidden;
    helpButton.setAttribute("aria-expanded", String(!help.hidden));
  };
  helpButton.addEventListener("click", toggleHelp);

  // -- controls -----------------------------------------------------------------------------------------
  var clicks = function (group, fn) {
    var buttons = root.querySelectorAll("button[data-" + group + "]");
    for (var n = 0; n < buttons.length; n++) {
      buttons[n].addEventListener("click", function (event) { fn(event.currentTarget.getAttribute("data-" + group)); });
    }
  };
  clicks("verdict", setVerdict);
  clicks("severity", function (s) { change("severity", s); });
  $("rv-accept").addEventListener("change", function (event) { change("accept", event.target.value); });
  $("rv-until").addEventListener("change", function (event) {
    change("until", event.target.value, event.target.value ? "Waiver until " + event.target.value + ": give a reason (or the comment is used)." : "");
  });
  $("rv-waiver-reason").addEventListener("input", function (event) {
    var w = work(current());
    if (event.target.value) { w.reason = event.target.value; } else { delete w.reason; }
    persist();
  });
  $("rv-comment").addEventListener("input", function (event) {
    var w = work(current());
    if (event.target.value) { w.comment = event.target.value; } else { delete w.comment; }
    persist();
    counter();
  });
  $("rv-prev").addEventListener("click", function () { move(-1); });
  $("rv-next").addEventListener("click", function () { move(1); });
  $("rv-clear").addEventListener("click", function () {
    delete state.work[keyOf(current())];
    persist();
    render();
    hint("This example's review is cleared.");
  });
  filterSelect.addEventListener("change", function () {
    var shown = visible()[state.pos];
    state.filter = filterSelect.value;
    // Stay on the example shown if the new list has it (clearing the filter), else start at the top.
    state.pos = Math.max(0, visible().indexOf(shown));
    persist();
    render();
  });
  zoom.addEventListener("click", function () {
    var on = !zoom.classList.contains("zoomed");
    zoom.classList.toggle("zoomed", on);
    zoom.setAttribute("aria-pressed", String(on));
  });

  // -- keys ---------------------------------------------------------------------------------------------
  var fields = { INPUT: 1, TEXTAREA: 1, SELECT: 1 };
  document.addEventListener("keydown", function (event) {
    if (root.hidden || !nameForm.hidden || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    if (target && fields[target.tagName]) {
      if (event.key === "Escape") { target.blur(); $("rv-item").focus(); event.preventDefault(); }
      return;   // typing in a field is typing, not a shortcut
    }
    var key = event.key;
    var handled = true;
    if (VERDICTS[key]) {
      setVerdict(VERDICTS[key]);
    } else if (SEVERITIES[key]) {
      change("severity", SEVERITIES[key]);
    } else if (key === "j" || key === "ArrowRight" || key === "ArrowDown") {
      move(1);
    } else if (key === "k" || key === "ArrowLeft" || key === "ArrowUp") {
      move(-1);
    } else if (key === "l") {
      $("rv-accept").focus();
    } else if (key === "w") {
      var until = $("rv-until");
      if (!until.value) {
        var d = new Date(Date.now() + 30 * 86400000);
        until.value = d.getFullYear() + "-" + ("0" + (d.getMonth() + 1)).slice(-2) + "-" + ("0" + d.getDate()).slice(-2);
        change("until", until.value, "Waiver until " + until.value + " (30 days): change the date, give a reason (or the comment is used).");
      }
      $("rv-until").focus();
    } else if (key === "n") {
      $("rv-comment").focus();
    } else if (key === "?") {
      toggleHelp();
    } else if (key === "Escape" && !help.hidden) {
      toggleHelp();
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // -- the annotation file -------------------------------------------------------------------------
  // JSON's double-quoted strings are YAML once YAML's extra line breaks and non-printables are escaped too.
  var q = function (value) {
    return JSON.stringify(String(value)).replace(/[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, function (c) {
      return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4);
    });
  };
  var today = function () {
    var d = new Date();
    return d.getFullYear() + "-" + ("0" + (d.getMonth() + 1)).slice(-2) + "-" + ("0" + d.getDate()).slice(-2);
  };
  var annotationFile = function (suite, date) {
    var lines = [
      "# Reviewed in the pytest-edgecases report (" + data.generated + "). Put this file in the suite's",
      "# annotations: folder (" + (suite.annotations[0] || "add annotations: reviews/ to " + suite.file) + ") and run pytest --edgecases again.",
      "reviewer: " + q(reviewer),
      "date: " + q(date),
      "examples:"
    ];
    items.forEach(function (it) {
      if (data.suites[it.suite] !== suite) { return; }
      var w = state.work[keyOf(it)];
      if (!judged(w)) { return; }
      lines.push("  - image: " + q(it.image));
      lines.push("    category: " + q(it.category));
      if (it.sha256) { lines.push("    sha256: " + q(it.sha256)); }
      if (it.predicted !== null) { lines.push("    predicted: " + q(it.predicted)); }
      if (w.verdict) { lines.push("    verdict: " + q(w.verdict)); }
      if (w.severity) { lines.push("    severity: " + q(w.severity)); }
      if (w.accept) { lines.push("    accept: [" + q(w.accept) + "]"); }
      if (w.until) {
        var reason = (w.reason || "").trim() || (w.comment || "").trim() || "waived in review by " + reviewer;
        lines.push("    waiver: {reason: " + q(reason) + ", until: " + q(w.until) + "}");
      }
      if (w.comment) { lines.push("    comment: " + q(w.comment)); }
    });
    return lines.join("\n") + "\n";
  };
  var safeName = function (name) { return name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[-.]+|-+$/g, "") || "reviewer"; };
  $("rv-download").addEventListener("click", function () {
    if (!reviewer) { open(); return; }
    var date = today();
    var used = data.suites.filter(function (s) {
      return items.some(function (it) { return data.suites[it.suite] === s && judged(state.work[keyOf(it)]); });
    });
    used.forEach(function (suite) {
      var name = safeName(reviewer) + "-" + date + (used.length > 1 ? "-" + safeName(suite.name) : "") + ".yaml";
      var url = URL.createObjectURL(new Blob([annotationFile(suite, date)], { type: "application/x-yaml" }));
      var a = document.createElement("a");
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    });
    hint(used.length ? "Downloaded. " + $("rv-where").textContent : "Nothing judged yet.");
  });

  if (state.open) { open(); }
})();
