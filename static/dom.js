// Small DOM helpers. Everything the page shows is built with createElement and textContent,
// so text from the catalog or the service is never parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function applyAttrs(node, attrs, { svg = false } = {}) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) {
        if (v !== null && v !== undefined) node.dataset[name] = String(v);
      }
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (!svg && key in node && typeof value !== "string" && key !== "list") {
      node[key] = value; // properties such as hidden, disabled, value
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return node;
}

/** h("button", {class: "x", onClick: fn}, "label", child, ...) */
export function h(tag, attrs, ...children) {
  return append(applyAttrs(document.createElement(tag), attrs), children);
}

/** The same for SVG elements. */
export function s(tag, attrs, ...children) {
  return append(applyAttrs(document.createElementNS(SVG_NS, tag), attrs, { svg: true }), children);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

const TOAST_MS = 6000;

/** A small message in the corner; errors stay a little longer and are announced assertively. */
export function toast(message, { kind = "error", ms = TOAST_MS } = {}) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const close = h("button", { class: "toast-close", type: "button", "aria-label": "Dismiss" }, "\u00d7");
  const node = h("div", { class: ["toast", `toast-${kind}`], role: kind === "error" ? "alert" : "status" },
    h("span", { class: "toast-text" }, message), close);
  const remove = () => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 250);
  };
  close.addEventListener("click", remove);
  region.append(node);
  while (region.children.length > 4) region.firstChild.remove();
  setTimeout(remove, kind === "error" ? ms + 2000 : ms);
}

export function formatPercent(p, digits = 1) {
  return `${(100 * p).toFixed(digits)}%`;
}

export function formatInt(n) {
  return Number(n || 0).toLocaleString("en-US");
}
