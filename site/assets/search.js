// Offline search for the course site: no server, no library. site/build.py writes window.COURSE_SEARCH_INDEX
// (assets/search-index.js: one entry per section, {u: link, c: chapter, s: section title, t: text}).
// Every word of the query must occur (prefix match); section titles weigh more than body text.
(function () {
  'use strict';
  var MAX_HITS = 20;

  function norm(s) {
    return (s || '').toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  }
  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

  function prepared() {
    var index = window.COURSE_SEARCH_INDEX || [];
    if (!index._prepared) {
      index.forEach(function (e) { e._s = norm(e.s); e._t = norm(e.t); e._c = norm(e.c); });
      index._prepared = true;
    }
    return index;
  }

  function count(hay, word) {
    var n = 0, i = hay.indexOf(word);
    while (i !== -1 && n < 50) { n++; i = hay.indexOf(word, i + word.length); }
    return n;
  }

  function search(query) {
    var words = norm(query).split(/[^\p{L}\p{N}_]+/u).filter(function (w) { return w.length > 0; });
    if (!words.length) return {words: [], hits: []};
    var hits = [];
    prepared().forEach(function (e) {
      var score = 0;
      for (var k = 0; k < words.length; k++) {
        var w = words[k];
        var inTitle = count(e._s, w), inText = count(e._t, w), inChapter = count(e._c, w);
        if (!inTitle && !inText && !inChapter) return;
        score += 10 * inTitle + 3 * inChapter + Math.min(inText, 10);
      }
      hits.push({entry: e, score: score});
    });
    hits.sort(function (a, b) { return b.score - a.score; });
    return {words: words, hits: hits.slice(0, MAX_HITS)};
  }

  function snippet(text, words) {
    var low = norm(text), at = -1;
    for (var k = 0; k < words.length && at < 0; k++) at = low.indexOf(words[k]);
    var start = Math.max(0, at - 60), piece = text.slice(start, start + 180);
    var out = escapeHtml((start > 0 ? '… ' : '') + piece + (start + 180 < text.length ? ' …' : ''));
    var re = new RegExp('(' + words.map(escapeRe).join('|') + ')', 'gi');
    return out.replace(re, '<mark>$1</mark>');
  }

  function render(list, result) {
    list.innerHTML = '';
    if (!result.hits || !result.hits.length) {
      list.innerHTML = '<li class="empty">No section mentions all of these words.</li>';
      list.hidden = false;
      return;
    }
    result.hits.forEach(function (h, i) {
      var e = h.entry, li = document.createElement('li');
      if (i === 0) li.className = 'active';
      li.innerHTML = '<a href="' + escapeHtml(e.u) + '"><span class="hit-title">' + escapeHtml(e.s) + '</span>' +
        '<span class="hit-chapter">' + escapeHtml(e.c) + '</span>' +
        '<span class="hit-text">' + snippet(e.t, result.words) + '</span></a>';
      list.appendChild(li);
    });
    list.hidden = false;
  }

  function init() {
    var input = document.getElementById('course-search-input');
    var list = document.getElementById('course-search-results');
    if (!input || !list) return;
    input.addEventListener('input', function () {
      if (!input.value.trim()) { list.hidden = true; list.innerHTML = ''; return; }
      render(list, search(input.value));
    });
    input.addEventListener('keydown', function (ev) {
      var items = list.querySelectorAll('li a');
      var active = list.querySelector('li.active');
      var pos = Array.prototype.indexOf.call(list.children, active);
      if (ev.key === 'Enter' && active && active.querySelector('a')) {
        window.location.href = active.querySelector('a').getAttribute('href');
      } else if ((ev.key === 'ArrowDown' || ev.key === 'ArrowUp') && items.length) {
        ev.preventDefault();
        if (active) active.className = '';
        pos = (pos + (ev.key === 'ArrowDown' ? 1 : -1) + items.length) % items.length;
        list.children[pos].className = 'active';
        list.children[pos].scrollIntoView({block: 'nearest'});
      } else if (ev.key === 'Escape') {
        list.hidden = true;
      }
    });
    document.addEventListener('click', function (ev) {
      if (!ev.target.closest('.course-search')) list.hidden = true;
    });
    var q = new URLSearchParams(window.location.search).get('q');
    if (q) { input.value = q; render(list, search(q)); }
  }

  window.courseSearch = search;  // used by the browser test
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
}());
