// Filters for the failure gallery and copy buttons for the review queue. Everything the report
// says is in the HTML already; this script only hides and shows it. It reads data-* attributes
// and textContent and never writes HTML, so no string from the data can become markup here.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var gallery = document.getElementById("gallery-cards");
  if (form && gallery) {
    var cards = gallery.querySelectorAll(".card");
    var count = document.getElementById("shown-count");
    var none = document.getElementById("no-match");
    var apply = function () {
      var cat = form.elements.category.value;
      var sev = form.elements.severity.value;
      var status = form.elements.status.value;
      var shown = 0;
      for (var i = 0; i < cards.length; i++) {
        var d = cards[i].dataset;
        var flags = " " + (d.flags || "") + " ";
        var ok = (!cat || d.cat === cat) && (!sev || d.severity === sev) &&
          (!status || d.status === status || flags.indexOf(" " + status + " ") >= 0);
        cards[i].hidden = !ok;
        if (ok) { shown++; }
      }
      count.textContent = String(shown);
      none.hidden = shown > 0;
    };
    form.hidden = false;
    form.addEventListener("change", apply);
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    var links = document.querySelectorAll("a[data-show-category]");
    for (var j = 0; j < links.length; j++) {
      links[j].addEventListener("click", function (event) {
        form.elements.category.value = event.currentTarget.dataset.showCategory;
        form.elements.severity.value = "";
        form.elements.status.value = "";
        apply();
      });
    }
    apply();
  }

  // Saliency overlays: each card's buttons (and review mode's) set the mode (image, heat, blend) and the
  // target (predicted, expected) as data-* attributes on the image's box; report.css does the rest.
  var overlayGroups = document.querySelectorAll(".sal-modes");
  for (var g = 0; g < overlayGroups.length; g++) {
    if (overlayGroups[g].id !== "rv-sal") { overlayGroups[g].hidden = false; }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".sal-modes button") : null;
    if (!button) { return; }
    var group = button.parentNode.closest(".sal-modes");
    var box = group.id === "rv-sal" ? document.getElementById("rv-stack") : group.closest(".card").querySelector(".sal");
    var attr = button.hasAttribute("data-mode") ? "mode" : "target";
    box.dataset[attr] = button.getAttribute("data-" + attr);
    var same = group.querySelectorAll("button[data-" + attr + "]");
    for (var b = 0; b < same.length; b++) {
      same[b].setAttribute("aria-pressed", same[b] === button ? "true" : "false");
    }
  });

  var copy = function (button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) { return; }
    var text = source.textContent;
    var done = function (ok) {
      button.textContent = ok ? "Copied" : "Select and copy";
      window.setTimeout(function () { button.textContent = "Copy"; }, 1500);
    };
    var fallback = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  };
  var buttons = document.querySelectorAll("button[data-copy]");
  for (var k = 0; k < buttons.length; k++) {
    buttons[k].hidden = false;
    buttons[k].addEventListener("click", function (event) { copy(event.currentTarget); });
  }
})();
