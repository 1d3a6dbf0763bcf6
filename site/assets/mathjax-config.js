// MathJax 3 configuration for the course site (loaded before vendor/mathjax/tex-svg-full.js).
// The widget manager (@jupyter-widgets/base) still calls the MathJax 2 API `MathJax.Hub.Queue(["Typeset", ...])` to
// typeset widget labels whenever `window.MathJax` exists; the small `Hub` shim below maps that call onto MathJax 3
// (`typesetPromise`) so widgets render without page errors, before and after MathJax has loaded.
(function () {
  'use strict';
  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var cmd = arguments[i];
        var mj = window.MathJax;
        if (Array.isArray(cmd) && cmd[0] === 'Typeset' && mj && typeof mj.typesetPromise === 'function') {
          mj.typesetPromise(cmd[2] ? [cmd[2]] : undefined).catch(function () {});
        }  // before MathJax has loaded, the startup pass typesets the whole page anyway
      }
    }
  };
  window.MathJax = {
    tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
          processEscapes: true, processEnvironments: true, tags: 'ams'},
    svg: {fontCache: 'global'},
    options: {ignoreHtmlClass: 'jp-CodeCell|tex2jax_ignore|course-search',
              processHtmlClass: 'jp-RenderedMarkdown|jp-RenderedLatex|tex2jax_process'},
    startup: {
      ready: function () {
        window.MathJax.startup.defaultReady();
        window.MathJax.Hub = hub;
      }
    },
    Hub: hub
  };
}());
