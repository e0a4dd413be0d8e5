// Posthorn Webmail: folders, message list, reader, search, settings, and
// live updates from the server-push stream. Plain modules, no framework;
// everything goes through the JSON API (api.js).
import { api, get, post, setCsrf, onUnauthorized, ApiError } from './api.js';
import { h, add, icon, clear, $, linkified, shortDate, longDate, size, addressText, displayName } from './dom.js';
import { compose, composeOpen, closeCompose } from './compose.js';

const PAGE = 50;
const ROLE_ORDER = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash'];
const ROLE_LABEL = { inbox: 'Inbox', drafts: 'Drafts', sent: 'Sent', archive: 'Archive', junk: 'Junk', trash: 'Trash' };

const state = {
  user: null,
  name: '',
  signature: '',
  mailboxes: [],
  mailbox: null,     // current mailbox id
  offset: 0,
  order: 'desc',
  query: '',
  list: null,        // last list reply
  selected: new Set(),
  focus: 0,          // index of the focused row
  open: null,        // the open message (full JSON)
  showImages: new Set(), // "mailbox:uid" allowed to load remote images
  textView: false,
  events: null,
};

const app = $('#app');
let live;          // aria-live region
let toastTimer = null;

// ---- small things ------------------------------------------------------

function toast(text, isError) {
  const t = $('#toast');
  t.textContent = text;
  t.className = isError ? 'toast error show' : 'toast show';
  if (toastTimer) clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = 'toast'; }, 4000);
}

function fail(e) {
  if (e instanceof ApiError && e.status === 401) return;
  toast(e.message || String(e), true);
}

function mailbox(id) {
  return state.mailboxes.find((m) => m.id === id);
}

function byRole(role) {
  return state.mailboxes.find((m) => m.role === role);
}

function label(m) {
  return ROLE_LABEL[m.role] || m.name;
}

function sortedMailboxes() {
  const rank = (m) => (ROLE_ORDER.includes(m.role) ? ROLE_ORDER.indexOf(m.role) : 100);
  return [...state.mailboxes].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

// ---- login ---------------------------------------------------------------

function showLogin(message) {
  if (state.events) {
    state.events.close();
    state.events = null;
  }
  closeCompose();
  state.user = null;
  document.title = 'Sign in · Posthorn Webmail';
  const err = h('p', { class: 'error', role: 'alert', id: 'login-error', text: message || '' });
  const user = h('input', { id: 'login-user', type: 'text', inputmode: 'email', autocomplete: 'username', spellcheck: 'false',
    autocapitalize: 'none', required: true, autofocus: true });
  const pass = h('input', { id: 'login-pass', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { class: 'primary', type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'login-box', 'aria-labelledby': 'login-title' },
    h('div', { class: 'brand' }, icon('mail'), h('span', null, 'Posthorn')),
    h('h1', { id: 'login-title', text: 'Sign in to your mail' }),
    h('label', { for: 'login-user', text: 'Email address' }), user,
    h('label', { for: 'login-pass', text: 'Password' }), pass,
    err, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    btn.disabled = true;
    err.textContent = '';
    try {
      const s = await post('/api/login', { username: user.value.trim(), password: pass.value });
      pass.value = '';
      await start(s);
    } catch (ex) {
      err.textContent = ex.status === 401 ? 'Wrong address or password.' : ex.message;
      btn.disabled = false;
      pass.select();
    }
  });
  clear(app).appendChild(h('main', { class: 'login' }, form));
  user.focus();
}

// ---- the main screen -------------------------------------------------------

function layout() {
  const search = h('input', { id: 'search', type: 'search', placeholder: 'Search mail', 'aria-label': 'Search in this folder', autocomplete: 'off' });
  const sform = h('form', { class: 'search', role: 'search' }, icon('search'), search);
  sform.addEventListener('submit', (e) => {
    e.preventDefault();
    state.query = search.value.trim();
    state.offset = 0;
    loadList().catch(fail);
  });
  search.addEventListener('input', () => {
    if (search.value === '' && state.query !== '') {
      state.query = '';
      state.offset = 0;
      loadList().catch(fail);
    }
  });
  const top = h('header', { class: 'top' },
    h('button', { class: 'icon-btn menu-btn', 'aria-label': 'Folders', 'aria-controls': 'sidebar', onclick: () => document.body.classList.toggle('show-nav') }, icon('menu')),
    h('div', { class: 'brand' }, icon('mail'), h('span', null, 'Posthorn')),
    sform,
    h('div', { class: 'who' },
      h('span', { class: 'user', id: 'user-name', text: state.name || state.user }),
      h('button', { class: 'icon-btn', 'aria-label': 'Settings', id: 'settings-btn', onclick: openSettings }, icon('settings')),
      h('button', { class: 'icon-btn', 'aria-label': 'Sign out', id: 'logout-btn', onclick: logout }, icon('logout'))));
  const nav = h('nav', { id: 'sidebar', class: 'sidebar', 'aria-label': 'Folders' },
    h('button', { class: 'primary compose-btn', id: 'compose-btn', onclick: () => newMessage() }, icon('pen'), ' Compose'),
    h('ul', { id: 'folders', class: 'folders' }),
    h('form', { class: 'new-folder', id: 'new-folder-form' },
      h('label', { for: 'new-folder', class: 'sr-only', text: 'New folder name' }),
      h('input', { id: 'new-folder', type: 'text', placeholder: 'New folder' }),
      h('button', { class: 'icon-btn', type: 'submit', 'aria-label': 'Create folder' }, icon('plus'))));
  nav.querySelector('form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#new-folder');
    const name = input.value.trim();
    if (!name) return;
    try {
      await post('/api/mailboxes', { name });
      input.value = '';
      await loadMailboxes();
      toast(`Folder “${name}” created`);
    } catch (ex) { fail(ex); }
  });
  const list = h('section', { class: 'list-pane', 'aria-label': 'Messages' },
    h('div', { class: 'list-head' }, h('h2', { id: 'list-title' }), h('span', { id: 'list-count', class: 'muted' })),
    h('div', { class: 'toolbar', id: 'list-toolbar', role: 'toolbar', 'aria-label': 'Message actions' }),
    h('ul', { id: 'messages', class: 'messages', 'aria-labelledby': 'list-title' }),
    h('div', { class: 'pager', id: 'pager' }));
  const reader = h('section', { class: 'reader', id: 'reader', 'aria-label': 'Message', tabindex: '-1' });
  live = h('div', { class: 'sr-only', 'aria-live': 'polite', id: 'live' });
  clear(app).append(top, h('div', { class: 'body' }, nav, list, reader), live);
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a')) document.body.classList.remove('show-nav');
  });
}

function renderFolders() {
  const ul = $('#folders');
  if (!ul) return;
  clear(ul);
  for (const m of sortedMailboxes()) {
    const depth = m.role ? 0 : m.name.split('/').length - 1;
    const short = m.role ? label(m) : m.name.split('/').pop();
    const a = h('a', { href: `#/m/${m.id}`, class: 'folder' + (m.id === state.mailbox ? ' current' : ''),
      'aria-current': m.id === state.mailbox ? 'page' : null, dataset: { id: m.id } },
    icon(m.role || 'folder'), h('span', { class: 'fname', text: short }),
    m.unseen && m.role !== 'sent' && m.role !== 'drafts' && m.role !== 'trash'
      ? h('span', { class: 'badge', 'aria-label': `${m.unseen} unread`, text: String(m.unseen) }) : null);
    a.style.setProperty('--depth', String(depth)); // CSSOM: allowed under the page's style-src 'self'
    const li = h('li', null, a);
    if (!m.role) {
      li.appendChild(h('span', { class: 'folder-actions' },
        h('button', { class: 'icon-btn small', 'aria-label': `Rename folder ${m.name}`, onclick: () => renameFolder(m) }, icon('pen')),
        h('button', { class: 'icon-btn small', 'aria-label': `Delete folder ${m.name}`, onclick: () => deleteFolder(m) }, icon('trash'))));
    }
    ul.appendChild(li);
  }
  const cur = mailbox(state.mailbox);
  const inbox = byRole('inbox');
  const unread = inbox ? inbox.unseen : 0;
  document.title = `${cur ? label(cur) : 'Mail'}${unread ? ` (${unread})` : ''} · Posthorn Webmail`;
}

async function renameFolder(m) {
  const name = window.prompt(`Rename folder “${m.name}” to:`, m.name);
  if (!name || name === m.name) return;
  try {
    await api('PATCH', `/api/mailboxes/${m.id}`, { name });
    await loadMailboxes();
    toast('Folder renamed');
  } catch (e) { fail(e); }
}

async function deleteFolder(m) {
  if (!window.confirm(`Delete folder “${m.name}” and the ${m.messages} messages in it?`)) return;
  try {
    await api('DELETE', `/api/mailboxes/${m.id}`);
    if (state.mailbox === m.id) location.hash = `#/m/${byRole('inbox').id}`;
    await loadMailboxes();
    toast('Folder deleted');
  } catch (e) { fail(e); }
}

async function loadMailboxes() {
  const r = await get('/api/mailboxes');
  state.mailboxes = r.mailboxes;
  renderFolders();
}

// ---- the list ----------------------------------------------------------------------

function selectedUids() {
  if (state.selected.size) return [...state.selected];
  const m = state.open;
  return m && m.mailbox === state.mailbox ? [m.uid] : [];
}

function renderToolbar() {
  const bar = $('#list-toolbar');
  clear(bar);
  const cur = mailbox(state.mailbox);
  const n = state.selected.size;
  const all = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all on this page',
    checked: state.list && n > 0 && n === state.list.messages.length });
  all.addEventListener('change', () => {
    state.selected = all.checked ? new Set(state.list.messages.map((m) => m.uid)) : new Set();
    renderList();
  });
  const btn = (name, text, fn, extra) => h('button', Object.assign({ class: 'tool', 'aria-label': text, title: text, onclick: fn }, extra || {}), icon(name));
  add(bar, all,
    btn('refresh', 'Refresh', () => refresh().catch(fail)),
    n ? [
      btn('mailopen', 'Mark as read', () => flag(['seen'], [])),
      btn('mail', 'Mark as unread', () => flag([], ['seen'])),
      btn('star', 'Flag', () => flag(['flagged'], [])),
      moveMenu(),
      btn('junk', cur && cur.role === 'junk' ? 'Not junk' : 'Mark as junk', () => junk(cur && cur.role !== 'junk')),
      btn('trash', 'Delete', () => remove()),
      h('span', { class: 'muted', text: `${n} selected` }),
    ] : null,
    h('span', { class: 'spacer' }),
    cur && (cur.role === 'trash' || cur.role === 'junk') && cur.messages
      ? h('button', { class: 'tool text', id: 'empty-btn', onclick: () => emptyFolder(cur) }, `Empty ${label(cur)}`) : null,
    h('button', { class: 'tool', id: 'sort-btn', 'aria-label': state.order === 'desc' ? 'Newest first: show oldest first' : 'Oldest first: show newest first',
      title: state.order === 'desc' ? 'Newest first' : 'Oldest first', onclick: () => {
        state.order = state.order === 'desc' ? 'asc' : 'desc';
        state.offset = 0;
        loadList().catch(fail);
      } }, icon('sort')));
}

function moveMenu() {
  const sel = h('select', { class: 'tool move', id: 'move-select', 'aria-label': 'Move to folder' },
    h('option', { value: '', text: 'Move to…' }),
    sortedMailboxes().filter((m) => m.id !== state.mailbox).map((m) => h('option', { value: String(m.id), text: label(m) })));
  sel.addEventListener('change', () => {
    const to = Number(sel.value);
    if (to) move(selectedUids(), to);
  });
  return sel;
}

function renderList() {
  const ul = $('#messages');
  if (!ul || !state.list) return;
  const cur = mailbox(state.mailbox);
  $('#list-title').textContent = state.query ? `Search: ${state.query}` : cur ? label(cur) : '';
  const { total, offset, messages } = state.list;
  $('#list-count').textContent = total ? `${offset + 1}–${offset + messages.length} of ${total.toLocaleString()}` : '';
  clear(ul);
  if (!messages.length) {
    ul.appendChild(h('li', { class: 'empty', text: state.query ? 'No messages match your search.' : 'No messages here.' }));
  }
  const sentLike = cur && (cur.role === 'sent' || cur.role === 'drafts');
  messages.forEach((m, i) => {
    const who = sentLike ? 'To: ' + displayName(m.to) : displayName(m.from);
    const isOpen = state.open && state.open.uid === m.uid && state.open.mailbox === state.mailbox;
    const check = h('input', { type: 'checkbox', 'aria-label': `Select message from ${who}: ${m.subject}`, checked: state.selected.has(m.uid) });
    check.addEventListener('change', () => {
      if (check.checked) state.selected.add(m.uid);
      else state.selected.delete(m.uid);
      renderToolbar();
      li.classList.toggle('selected', check.checked);
    });
    const star = h('button', { class: 'star' + (m.flags.flagged ? ' on' : ''), 'aria-pressed': m.flags.flagged ? 'true' : 'false',
      'aria-label': m.flags.flagged ? 'Unflag' : 'Flag', onclick: (e) => {
        e.stopPropagation();
        post(`/api/mailboxes/${state.mailbox}/messages/flags`, { uids: [m.uid], [m.flags.flagged ? 'remove' : 'add']: ['flagged'] })
          .then(() => { m.flags.flagged = !m.flags.flagged; renderList(); }).catch(fail);
      } }, icon('star'));
    const link = h('a', { href: `#/m/${state.mailbox}/${m.uid}`, class: 'open', dataset: { uid: m.uid } },
      h('span', { class: 'from', text: who || '(nobody)' }),
      h('span', { class: 'subject' }, h('span', { text: m.subject || '(no subject)' }),
        h('span', { class: 'snippet', text: m.snippet ? ' — ' + m.snippet : '' })),
      h('span', { class: 'meta' },
        m.attachments ? icon('clip', 'has attachments') : null,
        m.flags.answered ? icon('reply', 'answered') : null,
        h('time', { datetime: new Date(m.date * 1000).toISOString(), title: longDate(m.date), text: shortDate(m.date) })));
    const li = h('li', { class: 'msg' + (m.flags.seen ? '' : ' unread') + (isOpen ? ' current' : '') + (state.selected.has(m.uid) ? ' selected' : ''),
      dataset: { uid: m.uid, index: i } }, check, star, link);
    if (!m.flags.seen) link.setAttribute('aria-label', `Unread. ${who}: ${m.subject}`);
    ul.appendChild(li);
  });
  renderToolbar();
  const pager = clear($('#pager'));
  if (total > PAGE) {
    pager.append(
      h('button', { class: 'tool', id: 'prev-page', 'aria-label': 'Newer page', disabled: offset === 0, onclick: () => page(-1) }, icon('chevl')),
      h('span', { class: 'muted', text: `Page ${Math.floor(offset / PAGE) + 1} of ${Math.ceil(total / PAGE)}` }),
      h('button', { class: 'tool', id: 'next-page', 'aria-label': 'Older page', disabled: offset + PAGE >= total, onclick: () => page(1) }, icon('chevr')));
  }
}

function page(dir) {
  state.offset = Math.max(0, state.offset + dir * PAGE);
  loadList().catch(fail);
}

async function loadList() {
  if (!state.mailbox) return;
  let url = `/api/mailboxes/${state.mailbox}/messages?limit=${PAGE}&offset=${state.offset}&order=${state.order}`;
  if (state.query) url += '&q=' + encodeURIComponent(state.query);
  const mb = state.mailbox;
  const r = await get(url);
  if (mb !== state.mailbox) return;
  state.list = r;
  const uids = new Set(r.messages.map((m) => m.uid));
  state.selected = new Set([...state.selected].filter((u) => uids.has(u)));
  renderList();
}

async function refresh() {
  await Promise.all([loadMailboxes(), loadList()]);
}

// ---- actions -------------------------------------------------------------------------

async function flag(add, remove) {
  const uids = selectedUids();
  if (!uids.length) return;
  try {
    await post(`/api/mailboxes/${state.mailbox}/messages/flags`, { uids, add, remove });
    if (state.open && uids.includes(state.open.uid)) {
      for (const f of add) state.open.flags[f] = true;
      for (const f of remove) state.open.flags[f] = false;
      renderReader();
    }
    await refresh();
  } catch (e) { fail(e); }
}

async function move(uids, to) {
  if (!uids.length) return;
  try {
    await post(`/api/mailboxes/${state.mailbox}/messages/move`, { uids, to });
    toast(`Moved to ${label(mailbox(to))}`);
    afterRemoval(uids);
  } catch (e) { fail(e); }
}

async function remove() {
  const uids = selectedUids();
  if (!uids.length) return;
  try {
    const r = await post(`/api/mailboxes/${state.mailbox}/messages/delete`, { uids });
    toast(r.moved_to ? `${r.deleted} moved to Trash` : `${r.deleted} deleted`);
    afterRemoval(uids);
  } catch (e) { fail(e); }
}

async function junk(isJunk) {
  const uids = selectedUids();
  const dest = isJunk ? byRole('junk') : byRole('inbox');
  if (!uids.length || !dest) return;
  try {
    await post(`/api/mailboxes/${state.mailbox}/messages/flags`,
      { uids, add: [isJunk ? 'junk' : 'notjunk'], remove: [isJunk ? 'notjunk' : 'junk'] });
    await post(`/api/mailboxes/${state.mailbox}/messages/move`, { uids, to: dest.id });
    toast(isJunk ? 'Marked as junk' : 'Moved to Inbox');
    afterRemoval(uids);
  } catch (e) { fail(e); }
}

function afterRemoval(uids) {
  const list = state.list ? state.list.messages : [];
  let next = null;
  if (state.open && uids.includes(state.open.uid)) {
    const i = list.findIndex((m) => m.uid === state.open.uid);
    const rest = list.filter((m) => !uids.includes(m.uid));
    next = rest[Math.min(Math.max(i, 0), rest.length - 1)] || null;
    state.open = null;
  }
  state.selected.clear();
  if (next) location.hash = `#/m/${state.mailbox}/${next.uid}`;
  else {
    location.hash = `#/m/${state.mailbox}`;
    renderReader();
  }
  refresh().catch(fail);
}

async function emptyFolder(m) {
  if (!window.confirm(`Delete all ${m.messages} messages in ${label(m)} for good?`)) return;
  try {
    await post(`/api/mailboxes/${m.id}/empty`);
    state.open = null;
    renderReader();
    toast(`${label(m)} emptied`);
    await refresh();
  } catch (e) { fail(e); }
}

// ---- the reader ---------------------------------------------------------------------

async function openMessage(mb, uid) {
  const m = await get(`/api/mailboxes/${mb}/messages/${uid}`);
  state.open = m;
  state.textView = !m.has_html;
  renderReader();
  document.body.classList.add('show-reader');
  if (!m.flags.seen) {
    post(`/api/mailboxes/${mb}/messages/flags`, { uids: [uid], add: ['seen'] }).then(() => {
      m.flags.seen = true;
      const row = state.list && state.list.messages.find((x) => x.uid === uid);
      if (row) row.flags.seen = true;
      renderList();
      loadMailboxes().catch(() => {});
    }).catch(() => {});
  }
  renderList();
}

function addressLine(labelText, list) {
  if (!list || !list.length) return null;
  return h('div', { class: 'addr-line' }, h('span', { class: 'muted', text: labelText + ' ' }),
    list.map((a, i) => h('span', { class: 'addr', title: a.address, text: (i ? ', ' : '') + (a.name || a.address) })));
}

function renderReader() {
  const el = $('#reader');
  if (!el) return;
  clear(el);
  const m = state.open;
  if (!m || m.mailbox !== state.mailbox) {
    el.appendChild(h('div', { class: 'placeholder' }, icon('mail'), h('p', { text: 'Select a message to read it.' })));
    document.body.classList.remove('show-reader');
    return;
  }
  const cur = mailbox(m.mailbox);
  const act = (name, text, fn, id) => h('button', { class: 'tool', 'aria-label': text, title: text, onclick: fn, id }, icon(name));
  const key = `${m.mailbox}:${m.uid}`;
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Message' },
    h('button', { class: 'tool back', 'aria-label': 'Back to the list', onclick: () => { location.hash = `#/m/${state.mailbox}`; } }, icon('back')),
    act('reply', 'Reply', () => reply(false), 'reply-btn'),
    act('replyall', 'Reply all', () => reply(true), 'reply-all-btn'),
    act('forward', 'Forward', forward, 'forward-btn'),
    h('span', { class: 'sep' }),
    act('star', m.flags.flagged ? 'Unflag' : 'Flag', () => flag(m.flags.flagged ? [] : ['flagged'], m.flags.flagged ? ['flagged'] : []), 'flag-btn'),
    act('mail', 'Mark as unread', () => { flag([], ['seen']); }, 'unread-btn'),
    moveMenu(),
    act('junk', cur && cur.role === 'junk' ? 'Not junk' : 'Mark as junk', () => junk(!(cur && cur.role === 'junk')), 'junk-btn'),
    act('trash', 'Delete', () => remove(), 'delete-btn'),
    h('span', { class: 'spacer' }),
    m.has_html ? act(state.textView ? 'image' : 'code', state.textView ? 'Show formatted' : 'Show plain text', () => {
      state.textView = !state.textView;
      renderReader();
    }, 'view-toggle') : null,
    h('a', { class: 'tool', href: `/api/mailboxes/${m.mailbox}/messages/${m.uid}/raw`, target: '_blank', rel: 'noopener', 'aria-label': 'View source', title: 'View source' }, icon('dots')));
  const from = m.from[0] || { name: '', address: '' };
  const head = h('header', { class: 'msg-head' },
    h('h2', { id: 'msg-subject', text: m.subject || '(no subject)' }),
    h('div', { class: 'from-line' },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: (from.name || from.address || '?').trim().charAt(0).toUpperCase() }),
      h('div', null,
        h('div', null, h('strong', { text: from.name || from.address }), from.name ? h('span', { class: 'muted', text: ` <${from.address}>` }) : null),
        addressLine('To', m.to), addressLine('Cc', m.cc)),
      h('time', { class: 'muted', datetime: new Date(m.date * 1000).toISOString(), text: longDate(m.date) })));
  const content = h('div', { class: 'msg-body' });
  if (!state.textView && m.has_html) {
    const allowed = state.showImages.has(key);
    if (m.remote_images && !allowed) {
      content.appendChild(h('div', { class: 'notice', role: 'note' },
        icon('image'), h('span', { text: `Remote images in this message are blocked to protect your privacy.` }),
        h('button', { class: 'link', id: 'show-images', onclick: () => { state.showImages.add(key); renderReader(); } }, 'Show images')));
    }
    content.appendChild(h('iframe', {
      class: 'html-frame', title: 'Message content', sandbox: 'allow-popups allow-popups-to-escape-sandbox',
      referrerpolicy: 'no-referrer', src: `/api/mailboxes/${m.mailbox}/messages/${m.uid}/html${allowed ? '?images=1' : ''}`,
    }));
  } else {
    content.appendChild(h('div', { class: 'text-body' }, linkified(m.text || '')));
  }
  const visible = m.attachments.filter((a) => !a.inline || state.textView || !m.has_html);
  const atts = visible.length ? h('ul', { class: 'attachments', 'aria-label': 'Attachments' },
    visible.map((a) => h('li', { class: 'att' },
      h('a', { href: `/api/mailboxes/${m.mailbox}/messages/${m.uid}/parts/${encodeURIComponent(a.part)}`, download: a.name },
        icon('clip'), h('span', { class: 'name', text: a.name }), h('span', { class: 'muted', text: size(a.size) }))))) : null;
  add(el, toolbar, head, atts, content);
  if (live) live.textContent = `Opened: ${m.subject}`;
}

// ---- writing ------------------------------------------------------------------------

function withSignature(text) {
  return state.signature ? `${text}\n\n-- \n${state.signature}` : text;
}

function quote(m) {
  const from = m.from[0] ? addressText(m.from[0]) : 'someone';
  return `\n\nOn ${longDate(m.date)}, ${from} wrote:\n` + (m.text || '').split('\n').map((l) => '> ' + l).join('\n');
}

function reSubject(prefix, s) {
  const re = new RegExp(`^${prefix}:\\s*`, 'i');
  return re.test(s || '') ? s : `${prefix}: ${s || ''}`;
}

function newMessage(extra) {
  compose(Object.assign({ text: withSignature(''), toast, onSent: () => refresh().catch(fail) }, extra || {}));
}

function reply(all) {
  const m = state.open;
  if (!m) return;
  const me = state.user.toLowerCase();
  const to = (m.reply_to.length ? m.reply_to : m.from).map(addressText);
  let cc = [];
  if (all) {
    cc = [...m.to, ...m.cc].filter((a) => a.address.toLowerCase() !== me && !to.some((t) => t.includes(a.address))).map(addressText);
  }
  newMessage({
    title: all ? 'Reply all' : 'Reply', to: to.join(', '), cc: cc.join(', '), subject: reSubject('Re', m.subject),
    text: withSignature('') + quote(m), inReplyTo: { mailbox: m.mailbox, uid: m.uid }, focusBody: true,
  });
}

function forward() {
  const m = state.open;
  if (!m) return;
  const head = ['', '', '---------- Forwarded message ----------',
    `From: ${m.from.map(addressText).join(', ')}`, `Date: ${longDate(m.date)}`, `Subject: ${m.subject}`,
    `To: ${m.to.map(addressText).join(', ')}`, '', ''].join('\n');
  const parts = m.attachments.filter((a) => !a.inline);
  newMessage({
    title: 'Forward', subject: reSubject('Fwd', m.subject), text: withSignature('') + head + (m.text || ''),
    forward: { mailbox: m.mailbox, uid: m.uid, parts: parts.map((a) => a.part) }, attachments: parts,
  });
}

async function openDraft(m) {
  const full = await get(`/api/mailboxes/${m.mailbox}/messages/${m.uid}`);
  newMessage({
    title: 'Draft', to: full.to.map(addressText).join(', '), cc: full.cc.map(addressText).join(', '),
    bcc: full.bcc.map(addressText).join(', '), subject: full.subject, text: full.text.replace(/\n$/, ''),
    draft: { mailbox: m.mailbox, uid: m.uid },
  });
}

// ---- settings ---------------------------------------------------------------------------

async function openSettings() {
  const s = await get('/api/settings').catch(fail);
  if (!s) return;
  const name = h('input', { id: 's-name', type: 'text', value: s.name, maxlength: '200' });
  const sig = h('textarea', { id: 's-signature', rows: '4' });
  sig.value = s.signature;
  const cur = h('input', { id: 's-current', type: 'password', autocomplete: 'current-password' });
  const npw = h('input', { id: 's-new', type: 'password', autocomplete: 'new-password', minlength: '8' });
  const msg = h('p', { class: 'status', role: 'status' });
  const dlg = h('dialog', { class: 'settings', 'aria-labelledby': 'settings-title' },
    h('form', { method: 'dialog', id: 'settings-form' },
      h('header', null, h('h2', { id: 'settings-title', text: 'Settings' }),
        h('button', { class: 'icon-btn', value: 'close', 'aria-label': 'Close settings', formnovalidate: true }, icon('close'))),
      h('p', { class: 'muted', text: s.address }),
      h('label', { for: 's-name', text: 'Your name (shown to recipients)' }), name,
      h('label', { for: 's-signature', text: 'Signature' }), sig,
      h('fieldset', null, h('legend', { text: 'Change password' }),
        h('label', { for: 's-current', text: 'Current password' }), cur,
        h('label', { for: 's-new', text: 'New password (at least 8 characters)' }), npw),
      msg,
      h('footer', null, h('button', { class: 'primary', value: 'save', id: 'settings-save' }, 'Save'))));
  dlg.querySelector('form').addEventListener('submit', async (e) => {
    if (e.submitter && e.submitter.value !== 'save') return;
    e.preventDefault();
    msg.textContent = '';
    try {
      const r = await api('PUT', '/api/settings', { name: name.value, signature: sig.value });
      state.name = r.name;
      state.signature = r.signature;
      $('#user-name').textContent = r.name || state.user;
      if (npw.value || cur.value) {
        await post('/api/password', { current: cur.value, new: npw.value });
        cur.value = npw.value = '';
      }
      dlg.close();
      toast('Settings saved');
    } catch (ex) {
      msg.textContent = ex.status === 403 ? 'The current password is wrong.' : ex.message;
    }
  });
  dlg.addEventListener('close', () => dlg.remove());
  document.body.appendChild(dlg);
  dlg.showModal();
  name.focus();
}

async function logout() {
  try { await post('/api/logout'); } catch (e) { /* gone anyway */ }
  setCsrf(null);
  location.hash = '';
  showLogin('You are signed out.');
}

// ---- live updates ---------------------------------------------------------------------

let refreshTimer = null;
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh().then(() => {
      if (state.open) {
        // Flags of the open message may have changed elsewhere (IMAP...).
        get(`/api/mailboxes/${state.open.mailbox}/messages/${state.open.uid}`).then((m) => {
          if (state.open && m.uid === state.open.uid) {
            const changed = JSON.stringify(m.flags) !== JSON.stringify(state.open.flags);
            state.open.flags = m.flags;
            if (changed) renderReader();
          }
        }).catch(() => {});
      }
    }).catch(() => {});
  }, 250);
}

function connectEvents() {
  if (state.events) state.events.close();
  const es = new EventSource('/api/events');
  state.events = es;
  es.addEventListener('change', scheduleRefresh);
  es.addEventListener('hello', () => document.body.classList.add('live'));
  es.addEventListener('logout', () => {
    es.close();
    state.events = null;
    get('/api/session').catch(() => showLogin('Your session ended. Please sign in again.'));
  });
  es.onerror = () => document.body.classList.remove('live');
}

// ---- routing and keys -----------------------------------------------------------------

async function route() {
  if (!state.user) return;
  const m = /^#\/m\/(\d+)(?:\/(\d+))?$/.exec(location.hash);
  const inbox = byRole('inbox') || state.mailboxes[0];
  const mb = m ? Number(m[1]) : inbox.id;
  const uid = m && m[2] ? Number(m[2]) : null;
  if (!mailbox(mb)) {
    location.hash = `#/m/${inbox.id}`;
    return;
  }
  if (mb !== state.mailbox) {
    state.mailbox = mb;
    state.offset = 0;
    state.query = '';
    state.selected.clear();
    const s = $('#search');
    if (s) s.value = '';
    renderFolders();
    await loadList();
  }
  if (uid) {
    if (!state.open || state.open.uid !== uid || state.open.mailbox !== mb) await openMessage(mb, uid);
  } else {
    state.open = null;
    renderReader();
    renderList();
  }
}

function focusRow(i) {
  const rows = [...document.querySelectorAll('#messages li.msg')];
  if (!rows.length) return;
  state.focus = Math.max(0, Math.min(rows.length - 1, i));
  rows[state.focus].querySelector('a.open').focus();
}

function currentRowIndex() {
  const a = document.activeElement && document.activeElement.closest && document.activeElement.closest('li.msg');
  if (a) return Number(a.dataset.index);
  if (state.open && state.list) return state.list.messages.findIndex((m) => m.uid === state.open.uid);
  return -1;
}

const HELP = [['c', 'Compose'], ['j / k', 'Next / previous message'], ['Enter or o', 'Open'], ['r', 'Reply'],
  ['a', 'Reply all'], ['f', 'Forward'], ['s', 'Flag'], ['u', 'Mark as unread'], ['e', 'Archive'],
  ['# or Delete', 'Delete'], ['/', 'Search'], ['Escape', 'Back / close'], ['?', 'This help']];

function showHelp() {
  const dlg = h('dialog', { class: 'help', 'aria-labelledby': 'help-title' },
    h('h2', { id: 'help-title', text: 'Keyboard shortcuts' }),
    h('dl', null, HELP.map(([k, v]) => [h('dt', null, h('kbd', { text: k })), h('dd', { text: v })])),
    h('form', { method: 'dialog' }, h('button', { class: 'primary' }, 'Close')));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.appendChild(dlg);
  dlg.showModal();
}

document.addEventListener('keydown', (e) => {
  if (!state.user || composeOpen() || document.querySelector('dialog[open]')) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const list = state.list ? state.list.messages : [];
  const open = (i) => { if (list[i]) location.hash = `#/m/${state.mailbox}/${list[i].uid}`; };
  switch (e.key) {
    case 'c': newMessage(); break;
    case 'j': { const i = currentRowIndex() + 1; if (state.open) open(Math.min(i, list.length - 1)); else focusRow(i); break; }
    case 'k': { const i = currentRowIndex() - 1; if (state.open) open(Math.max(i, 0)); else focusRow(i); break; }
    case 'o': case 'Enter': { const i = currentRowIndex(); if (i >= 0) open(i); break; }
    case 'r': reply(false); break;
    case 'a': reply(true); break;
    case 'f': forward(); break;
    case 's': if (state.open) flag(state.open.flags.flagged ? [] : ['flagged'], state.open.flags.flagged ? ['flagged'] : []); break;
    case 'u': flag([], ['seen']); break;
    case 'e': { const a = byRole('archive'); if (a && a.id !== state.mailbox) move(selectedUids(), a.id); break; }
    case '#': case 'Delete': remove(); break;
    case '/': $('#search').focus(); break;
    case '?': showHelp(); break;
    case 'Escape':
      if (document.body.classList.contains('show-nav')) document.body.classList.remove('show-nav');
      else if (state.open) location.hash = `#/m/${state.mailbox}`;
      break;
    default: return;
  }
  e.preventDefault();
});

// Clicking a draft opens it for editing.
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('#messages a.open');
  if (!a) return;
  const cur = mailbox(state.mailbox);
  if (cur && cur.role === 'drafts') {
    e.preventDefault();
    openDraft({ mailbox: cur.id, uid: Number(a.dataset.uid) }).catch(fail);
  }
});

window.addEventListener('hashchange', () => route().catch(fail));

// ---- start -------------------------------------------------------------------------------

async function start(session) {
  state.user = session.user;
  state.name = session.name;
  setCsrf(session.csrf);
  layout();
  await loadMailboxes();
  get('/api/settings').then((s) => { state.signature = s.signature; }).catch(() => {});
  connectEvents();
  state.mailbox = null;
  await route();
}

onUnauthorized(() => showLogin('Your session ended. Please sign in again.'));

(async () => {
  try {
    const s = await get('/api/session');
    await start(s);
  } catch (e) {
    showLogin();
  }
})();
