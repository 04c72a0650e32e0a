// The metric tree, level by level from /metrics/find: branches are disclosure buttons, leaves are
// buttons that plot the metric. Arrow keys move between the visible buttons (Right opens a
// branch, Left closes it or goes to its parent), Home/End jump to the first and last.
"use strict";
(function (TD) {
  async function children(path) {
    return TD.api.get("/metrics/find", { query: path ? path + ".*" : "*", format: "treejson" });
  }

  function item(node, onLeaf) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = node.text;
    button.dataset.path = node.id;
    if (node.leaf) {
      button.className = "leaf";
      button.title = "Plot " + node.id;
      button.addEventListener("click", () => onLeaf(node.id));
    } else {
      button.className = "branch";
      button.setAttribute("aria-expanded", "false");
      button.addEventListener("click", () => toggle(li, button, node.id, onLeaf));
    }
    li.appendChild(button);
    return li;
  }

  async function fill(list, path, onLeaf) {
    list.setAttribute("aria-busy", "true");
    try {
      const nodes = await children(path);
      list.replaceChildren(...nodes.map((node) => item(node, onLeaf)));
      if (!nodes.length && !path) {
        const li = document.createElement("li");
        li.className = "status";
        li.textContent = "No metrics stored yet.";
        list.appendChild(li);
      }
    } catch (err) {
      const li = document.createElement("li");
      li.className = "error";
      li.textContent = err.message;
      list.replaceChildren(li);
    }
    list.removeAttribute("aria-busy");
  }

  async function toggle(li, button, path, onLeaf) {
    const open = button.getAttribute("aria-expanded") === "true";
    let list = li.querySelector(":scope > ul");
    if (open) {
      button.setAttribute("aria-expanded", "false");
      if (list) list.hidden = true;
      return;
    }
    button.setAttribute("aria-expanded", "true");
    if (!list) {
      list = document.createElement("ul");
      li.appendChild(list);
      await fill(list, path, onLeaf);
    }
    list.hidden = false;
  }

  function keys(root) {
    root.addEventListener("keydown", (event) => {
      const current = event.target;
      if (current.tagName !== "BUTTON") return;
      const visible = Array.from(root.querySelectorAll("button")).filter((b) => b.offsetParent !== null);
      const index = visible.indexOf(current);
      let next = null;
      if (event.key === "ArrowDown") next = visible[index + 1];
      else if (event.key === "ArrowUp") next = visible[index - 1];
      else if (event.key === "Home") next = visible[0];
      else if (event.key === "End") next = visible[visible.length - 1];
      else if (event.key === "ArrowRight" && current.getAttribute("aria-expanded") === "false") current.click();
      else if (event.key === "ArrowLeft") {
        if (current.getAttribute("aria-expanded") === "true") current.click();
        else {
          const parent = current.parentElement.parentElement.closest("li");
          next = parent && parent.querySelector(":scope > button");
        }
      } else return;
      event.preventDefault();
      if (next) next.focus();
    });
  }

  function start(root, onLeaf) {
    keys(root);
    return fill(root, "", onLeaf);
  }

  TD.tree = { start: start };
})(window.torusDashboard = window.torusDashboard || {});
