// Copy the dashboard's npm dependencies (uPlot) into torus/ui/static/vendor, where they are
// committed and shipped with the Python package: `npm install && npm run vendor`.
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const source = path.join(root, "node_modules", "uplot");
const target = path.join(root, "torus", "ui", "static", "vendor");
const files = [
  ["dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["dist/uPlot.min.css", "uPlot.min.css"],
  ["LICENSE", "uPlot.LICENSE"],
];

fs.mkdirSync(target, { recursive: true });
const version = JSON.parse(fs.readFileSync(path.join(source, "package.json"), "utf8")).version;
for (const [from, to] of files) {
  fs.copyFileSync(path.join(source, from), path.join(target, to));
}
fs.writeFileSync(path.join(target, "VERSIONS"), "uplot " + version + "\n");
console.log("copied uPlot " + version + " into " + path.relative(root, target));
