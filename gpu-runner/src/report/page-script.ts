/**
 * The only script on the page: while the pointer (or keyboard focus) is on
 * a heatmap cell, highlight that cell's row and column labels, so the layer
 * names can be read off a large matrix. The page is complete without it.
 * It reads no report data (nothing from the report is ever inside a
 * <script>), so escaping concerns stop at the HTML.
 */
export const REPORT_SCRIPT = `
(function () {
  'use strict';
  var maps = document.querySelectorAll('svg.heatmap');
  Array.prototype.forEach.call(maps, function (svg) {
    var labels = svg.querySelectorAll('.axis-label');
    function mark(cell) {
      Array.prototype.forEach.call(labels, function (l) {
        var on = !!cell && (l.getAttribute('data-label-row') === cell.getAttribute('data-row') ||
          l.getAttribute('data-label-col') === cell.getAttribute('data-col'));
        l.classList.toggle('active', on);
      });
    }
    svg.addEventListener('pointerover', function (e) {
      var t = e.target;
      mark(t && t.classList && t.classList.contains('cell') ? t : null);
    });
    svg.addEventListener('pointerleave', function () { mark(null); });
  });
})();
`;
