// Small DOM helpers. Text from mail is only ever set as text (textContent,
// attribute values), never parsed as HTML: the HTML of messages is shown
// only in the sandboxed frame, already sanitized by the server.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Appends children (nested arrays flattened, null/false skipped).
export function add(el, ...children) {
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// Icons: 24x24 outline paths, drawn as SVG elements (no markup parsing).
const ICONS = {
  inbox: 'M3 13h5l2 3h4l2-3h5M5 4h14l2 9v6a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1v-6z',
  sent: 'M3 11l18-8-8 18-2-8z',
  drafts: 'M4 20h4L19 9l-4-4L4 16zM13 7l4 4',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  junk: 'M12 3l9 16H3zM12 10v4M12 17v.5',
  archive: 'M3 4h18v4H3zM5 8v12h14V8M10 12h4',
  folder: 'M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z',
  star: 'M12 3l2.8 5.9 6.2.8-4.6 4.3 1.2 6.2L12 17.3 6.4 20.2l1.2-6.2L3 9.7l6.2-.8z',
  clip: 'M16 7l-7.5 7.5a2 2 0 0 0 2.8 2.8L19 9.6a4 4 0 0 0-5.7-5.7L5.6 11.6a6 6 0 0 0 8.5 8.5L20 14',
  reply: 'M10 8L4 13l6 5M4 13h10a6 6 0 0 1 6 6',
  replyall: 'M12 8l-6 5 6 5M8 8l-6 5 6 5M6 13h8a6 6 0 0 1 6 6',
  forward: 'M14 8l6 5-6 5M20 13H10a6 6 0 0 0-6 6',
  pen: 'M4 20h4L19 9l-4-4L4 16z',
  search: 'M10 4a6 6 0 1 1 0 12 6 6 0 0 1 0-12zM15 15l5 5',
  menu: 'M4 6h16M4 12h16M4 18h16',
  back: 'M15 5l-7 7 7 7',
  close: 'M6 6l12 12M18 6L6 18',
  mail: 'M3 5h18v14H3zM3 6l9 7 9-7',
  mailopen: 'M3 10l9-6 9 6v10H3zM3 10l9 6 9-6',
  move: 'M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1zM10 13h6M13 10l3 3-3 3',
  settings: 'M12 9a3 3 0 1 1 0 6 3 3 0 0 1 0-6zM12 2v3M12 19v3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M2 12h3M19 12h3M4.9 19.1L7 17M17 7l2.1-2.1',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  plus: 'M12 5v14M5 12h14',
  code: 'M8 8l-4 4 4 4M16 8l4 4-4 4',
  image: 'M4 5h16v14H4zM4 15l4-4 4 4 3-3 5 5M15 9h.01',
  download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
  refresh: 'M20 11a8 8 0 1 0-2.3 5.7M20 5v6h-6',
  chevl: 'M15 6l-6 6 6 6',
  chevr: 'M9 6l6 6-6 6',
  dots: 'M12 6h.01M12 12h.01M12 18h.01',
  sort: 'M7 4v16M4 17l3 3 3-3M17 20V4M14 7l3-3 3 3',
  check: 'M5 12l5 5 9-10',
};

export function icon(name, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'icon');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', ICONS[name] || ICONS.folder);
  svg.appendChild(p);
  return svg;
}

// Plain text with its links made clickable, and quoted lines marked.
export function linkified(text) {
  const frag = document.createDocumentFragment();
  const url = /\b(https?:\/\/[^\s<>"')\]]+[^\s<>"')\].,;:!?])|\b(mailto:[^\s<>"]+)/g;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const target = line.startsWith('>') ? h('span', { class: 'quote' }) : frag;
    let last = 0;
    let m;
    url.lastIndex = 0;
    while ((m = url.exec(line)) !== null) {
      if (m.index > last) target.appendChild(document.createTextNode(line.slice(last, m.index)));
      target.appendChild(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer' }, m[0]));
      last = m.index + m[0].length;
    }
    if (last < line.length) target.appendChild(document.createTextNode(line.slice(last)));
    if (target !== frag) frag.appendChild(target);
    if (i < lines.length - 1) frag.appendChild(document.createTextNode('\n'));
  });
  return frag;
}

const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

export function shortDate(epoch) {
  const d = new Date(epoch * 1000);
  const now = new Date();
  if (sameDay(d, now)) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  if (d.getFullYear() === now.getFullYear()) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function longDate(epoch) {
  return new Date(epoch * 1000).toLocaleString(undefined, {
    weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

export function size(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

export function addressText(a) {
  return a.name ? `${a.name} <${a.address}>` : a.address;
}

// "Name <addr>" or "addr" of a list summary: the name part, for lists.
export function displayName(from) {
  if (!from) return '';
  const m = /^\s*"?([^"<]*?)"?\s*<[^>]*>\s*$/.exec(from);
  return m && m[1] ? m[1] : from;
}
