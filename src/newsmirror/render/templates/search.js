// Static search: Pagefind's UI over one bundle per month, the newest first and the others
// merged in, so a new article only re-indexes its month.  Reading never needs this file.
(function () {
  "use strict";
  var me = document.currentScript;
  var root = new URL(".", me.src);
  var bundles = me.getAttribute("data-bundles").split(" ");
  function path(b) { return new URL("pagefind/" + b + "/", root).pathname; }
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: path(bundles[0]),
    baseUrl: root.pathname,
    mergeIndex: bundles.slice(1).map(function (b) { return { bundlePath: path(b) }; }),
    showImages: false,
    showSubResults: false,
    // Each result says where and when: the source and date the article page carries.
    processResult: function (result) {
      var meta = result.meta || {};
      var where = [meta.source, meta.date].filter(Boolean).join(" · ");
      if (where) {
        result.excerpt = '<span class="result-meta">' + escapeHtml(where) + "</span> " + result.excerpt;
      }
      return result;
    },
  });
  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  var q = new URLSearchParams(window.location.search).get("q");
  if (q) { ui.triggerSearch(q); }
})();
