// The compose panel: new messages, replies, forwards and drafts. Address
// fields complete from past correspondents (/api/contacts); attachments
// upload as soon as they are picked, with progress; the draft is saved to
// Drafts a few seconds after each change; sending goes to /api/send.
import { api, get, post, upload, ApiError } from './api.js';
import { h, icon, clear, size, addressText } from './dom.js';

const DRAFT_DELAY = 3000;
let open = null; // the one compose panel

export function composeOpen() {
  return open !== null;
}

export function closeCompose() {
  if (open) open.close(false);
}

function splitAddresses(s) {
  // Commas inside quoted names do not separate addresses.
  const out = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

// An address input with a listbox of suggestions (ARIA combobox pattern).
function addressField(id, label, value) {
  const input = h('input', {
    id, type: 'text', class: 'addr', value: value || '', autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': id + '-list',
  });
  const list = h('ul', { id: id + '-list', class: 'suggest', role: 'listbox', hidden: true, 'aria-label': label + ' suggestions' });
  let items = [];
  let active = -1;
  let seq = 0;
  const hide = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };
  const choose = (c) => {
    const parts = splitAddresses(input.value);
    parts.pop();
    parts.push(addressText(c));
    input.value = parts.join(', ') + ', ';
    hide();
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.focus();
  };
  const mark = () => {
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', i === active ? 'true' : 'false'));
    if (active >= 0) input.setAttribute('aria-activedescendant', `${id}-opt-${active}`);
  };
  input.addEventListener('input', async (e) => {
    if (e.isTrusted === false && !list.hidden) return;
    const parts = splitAddresses(input.value);
    const last = input.value.trim().endsWith(',') ? '' : (parts[parts.length - 1] || '');
    if (last.length < 1) return hide();
    const mine = ++seq;
    let res;
    try {
      res = await get('/api/contacts?limit=8&q=' + encodeURIComponent(last));
    } catch (err) {
      return hide();
    }
    if (mine !== seq) return;
    items = res.contacts;
    clear(list);
    if (!items.length) return hide();
    items.forEach((c, i) => list.appendChild(h('li', {
      id: `${id}-opt-${i}`, role: 'option', 'aria-selected': 'false',
      onmousedown: (ev) => { ev.preventDefault(); choose(c); },
    }, c.name ? h('b', { text: c.name }) : null, ' ', h('span', { text: c.address }))));
    active = -1;
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  });
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown') { active = Math.min(items.length - 1, active + 1); mark(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { active = Math.max(0, active - 1); mark(); e.preventDefault(); }
    else if ((e.key === 'Enter' || e.key === 'Tab') && active >= 0) { choose(items[active]); e.preventDefault(); }
    else if (e.key === 'Escape') { hide(); e.stopPropagation(); }
  });
  input.addEventListener('blur', () => setTimeout(hide, 150));
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), h('div', { class: 'combo' }, input, list));
}

// opts: { to, cc, bcc, subject, text, inReplyTo: {mailbox, uid}, forward: {mailbox, uid, parts},
//         draft: {mailbox, uid}, attachments: [{name, size}] (forwarded, shown only) , onSent, toast }
export function compose(opts) {
  if (open) open.close(true);
  const o = Object.assign({ to: '', cc: '', bcc: '', subject: '', text: '' }, opts);
  const uploads = []; // {id, name, size, el}
  let draft = o.draft || null;
  let dirty = false;
  let timer = null;
  let saving = null;
  let sending = false;

  const status = h('span', { class: 'compose-status', role: 'status', 'aria-live': 'polite' });
  const toField = addressField('c-to', 'To', o.to);
  const ccField = addressField('c-cc', 'Cc', o.cc);
  const bccField = addressField('c-bcc', 'Bcc', o.bcc);
  const showCc = !!(o.cc || o.bcc);
  ccField.hidden = !showCc;
  bccField.hidden = !showCc;
  const subject = h('input', { id: 'c-subject', type: 'text', value: o.subject });
  const body = h('textarea', { id: 'c-body', 'aria-label': 'Message', spellcheck: 'true' });
  body.value = o.text;
  const attList = h('ul', { class: 'attachments', 'aria-label': 'Attachments' });
  const file = h('input', { type: 'file', multiple: true, hidden: true, id: 'c-file' });
  const sendBtn = h('button', { class: 'primary', type: 'submit' }, icon('sent'), ' Send');

  (o.attachments || []).forEach((a) => attList.appendChild(h('li', { class: 'att forwarded' },
    icon('clip'), h('span', { class: 'name', text: a.name }), h('span', { class: 'muted', text: size(a.size) }))));

  const val = (el) => el.querySelector('input').value;
  const payload = () => {
    const p = {
      to: splitAddresses(val(toField)), cc: splitAddresses(val(ccField)), bcc: splitAddresses(val(bccField)),
      subject: subject.value, text: body.value, attachments: uploads.filter((u) => u.id).map((u) => u.id),
    };
    if (o.inReplyTo) p.in_reply_to = o.inReplyTo;
    if (o.forward) p.forward = o.forward;
    if (draft) p.replace = draft;
    return p;
  };

  const saveDraft = async () => {
    timer = null;
    if (saving) await saving; // one save at a time: each replaces the one before
    if (!dirty || sending) return;
    dirty = false;
    const p = payload();
    delete p.attachments; // uploads wait in the session; the draft keeps the text
    delete p.forward;
    saving = post('/api/drafts', p).then((r) => {
      draft = { mailbox: r.mailbox, uid: r.uid };
      status.textContent = 'Draft saved';
    }).catch((e) => {
      status.textContent = 'Draft not saved: ' + e.message;
    }).finally(() => { saving = null; });
    await saving;
  };
  const changed = () => {
    dirty = true;
    status.textContent = '';
    if (timer) clearTimeout(timer);
    timer = setTimeout(saveDraft, DRAFT_DELAY);
  };

  const addFiles = (files) => {
    for (const f of files) {
      const bar = h('progress', { max: '1', value: '0', 'aria-label': 'Upload of ' + f.name });
      const entry = { id: null, name: f.name, size: f.size };
      const remove = h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Remove ' + f.name, onclick: () => {
        if (entry.id) api('DELETE', '/api/uploads/' + entry.id).catch(() => {});
        uploads.splice(uploads.indexOf(entry), 1);
        li.remove();
      } }, icon('close'));
      const li = h('li', { class: 'att uploading' }, icon('clip'), h('span', { class: 'name', text: f.name }),
        h('span', { class: 'muted', text: size(f.size) }), bar, remove);
      entry.el = li;
      uploads.push(entry);
      attList.appendChild(li);
      entry.done = upload(f, (p) => { bar.value = p; }).then((r) => {
        entry.id = r.id;
        li.classList.remove('uploading');
        bar.remove();
      }).catch((e) => {
        li.classList.add('failed');
        bar.remove();
        li.appendChild(h('span', { class: 'error', text: e.message }));
        uploads.splice(uploads.indexOf(entry), 1);
      });
    }
  };
  file.addEventListener('change', () => { addFiles(file.files); file.value = ''; });

  const panel = h('form', { class: 'compose', 'aria-label': 'Compose message', novalidate: true },
    h('header', null,
      h('h2', { text: o.title || 'New message' }),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close (draft is kept)', onclick: () => close(true) }, icon('close'))),
    toField,
    h('button', { type: 'button', class: 'link cc-toggle', hidden: showCc, onclick: (e) => {
      ccField.hidden = false; bccField.hidden = false; e.target.hidden = true; ccField.querySelector('input').focus();
    } }, 'Cc/Bcc'),
    ccField, bccField,
    h('div', { class: 'field' }, h('label', { for: 'c-subject', text: 'Subject' }), subject),
    body, attList,
    h('footer', null,
      sendBtn,
      h('label', { class: 'button', for: 'c-file', tabindex: '0', onkeydown: (e) => {
        if (e.key === 'Enter' || e.key === ' ') { file.click(); e.preventDefault(); }
      } }, icon('clip'), ' Attach'),
      file, status,
      h('button', { type: 'button', class: 'icon-btn discard', 'aria-label': 'Discard draft', onclick: async () => {
        if (timer) clearTimeout(timer);
        if (saving) await saving;
        if (draft) post(`/api/mailboxes/${draft.mailbox}/messages/delete`, { uids: [draft.uid], permanent: true }).catch(() => {});
        close(false);
      } }, icon('trash'))));

  panel.addEventListener('input', changed);
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { close(true); e.stopPropagation(); }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { panel.requestSubmit(); e.preventDefault(); }
  });
  panel.addEventListener('dragover', (e) => e.preventDefault());
  panel.addEventListener('drop', (e) => { e.preventDefault(); addFiles(e.dataTransfer.files); });
  panel.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (sending) return;
    const p = payload();
    if (!p.to.length && !p.cc.length && !p.bcc.length) {
      status.textContent = 'Add at least one recipient.';
      toField.querySelector('input').focus();
      return;
    }
    sending = true;
    sendBtn.disabled = true;
    status.textContent = 'Sending…';
    try {
      await Promise.all(uploads.map((u) => u.done));
      if (timer) clearTimeout(timer);
      if (saving) await saving;
      const q = payload();
      const r = await post('/api/send', q);
      close(false);
      const failed = r.failed && r.failed.length ? ` (not delivered to ${r.failed.map((f) => f.address).join(', ')})` : '';
      if (o.toast) o.toast('Message sent' + failed);
      if (o.onSent) o.onSent(r);
    } catch (err) {
      sending = false;
      sendBtn.disabled = false;
      status.textContent = err instanceof ApiError ? err.message : 'Not sent.';
    }
  });

  function close(keepDraft) {
    if (timer) clearTimeout(timer);
    if (keepDraft && dirty && !sending) saveDraft();
    panel.remove();
    open = null;
    if (o.onClose) o.onClose();
  }

  document.body.appendChild(panel);
  open = { close };
  (o.focusBody ? body : toField.querySelector('input')).focus();
  if (o.focusBody) body.setSelectionRange(0, 0);
  return panel;
}
