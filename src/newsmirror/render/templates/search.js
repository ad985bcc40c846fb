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
    // The index holds each text as terms (see newsmirror.publish.pagefind): a query is
    // folded and cut the same way, so one character finds it inside any word and a pair
    // finds only pages holding that pair, in either script.
    processTerm: terms,
    // Each result says where and when, with the article's opening as its excerpt (the
    // indexed terms are not for reading).
    processResult: function (result) {
      var meta = result.meta || {};
      var where = [meta.source, meta.date].filter(Boolean).join(" · ");
      result.excerpt =
        (where ? '<span class="result-meta">' + escapeHtml(where) + "</span> " : "") +
        escapeHtml(meta.summary || "");
      return result;
    },
  });
  function term(chars) {
    var out = "z";
    for (var i = 0; i < chars.length; i++) {
      out += ("00000" + chars[i].codePointAt(0).toString(16)).slice(-5);
    }
    return out;
  }
  function terms(query) {
    var fold = window.NM_FOLD || {};
    var han = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2ffff}]/u;
    var out = [];
    var run = [];
    var text = "";
    function flush() {
      if (run.length === 1) { out.push(term(run)); }
      for (var i = 0; i + 1 < run.length; i++) { out.push(term(run.slice(i, i + 2))); }
      run = [];
    }
    Array.from(query.normalize("NFKC").toLowerCase()).forEach(function (ch) {
      var c = fold[ch] || ch;
      if (han.test(c)) {
        if (text) { out.push(text); text = ""; }
        run.push(c);
      } else {
        flush();
        text += c;
      }
    });
    flush();
    if (text) { out.push(text); }
    return out.join(" ").replace(/\s+/g, " ").trim();
  }
  function escapeHtml(text) {
    return text.replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  var q = new URLSearchParams(window.location.search).get("q");
  if (q) { ui.triggerSearch(q); }
})();
