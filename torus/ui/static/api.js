// Calls to torus's API; a 401 asks for a token (kept in sessionStorage) and retries.
"use strict";
(function (TD) {
  const KEY = "torus.token";
  let asking = null; // one prompt shared by the calls that got a 401 together

  function token() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (err) { return ""; }
  }

  function askToken(reason) {
    if (asking) return asking;
    const box = document.getElementById("token-box");
    const form = document.getElementById("token-form");
    const input = document.getElementById("token");
    document.getElementById("token-reason").textContent = reason || "";
    box.hidden = false;
    input.value = "";
    input.focus();
    asking = new Promise((resolve) => {
      form.onsubmit = (event) => {
        event.preventDefault();
        try { sessionStorage.setItem(KEY, input.value.trim()); } catch (err) { /* private mode */ }
        box.hidden = true;
        form.onsubmit = null;
        asking = null;
        resolve();
      };
    });
    return asking;
  }

  async function get(path, params) {
    const query = new URLSearchParams();
    Object.entries(params || {}).forEach(([name, value]) => {
      [].concat(value).forEach((one) => query.append(name, one));
    });
    for (;;) {
      const headers = { "X-Torus-Dashboard": "1" }; // 401s without a Basic challenge
      if (token()) headers.Authorization = "Bearer " + token();
      const response = await fetch(path + "?" + query.toString(), { headers: headers });
      const body = await response.json().catch(() => null);
      if (response.status === 401) {
        await askToken(body && body.error);
        continue;
      }
      if (!response.ok) {
        throw new Error(body && body.error ? body.error : "HTTP " + response.status);
      }
      return body;
    }
  }

  TD.api = { get: get, token: token };
})(window.torusDashboard = window.torusDashboard || {});
