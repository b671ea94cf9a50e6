/* Search as you type on the medicine look-up page: the form still works without script. */
(function () {
  var form = document.getElementById('medicine-search');
  var results = document.getElementById('results');
  if (!form || !results || !window.fetch) return;
  var timer = null;
  var last = null;
  function update() {
    var params = new URLSearchParams(new FormData(form));
    var query = params.toString();
    if (query === last) return;
    last = query;
    fetch('/medicines/results?' + query, { headers: { 'Accept': 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || query !== last) return;
        results.innerHTML = html;
        history.replaceState(null, '', '/medicines?' + query);
      })
      .catch(function () { /* keep the last results; the search button still works */ });
  }
  form.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(update, 200);
  });
})();
