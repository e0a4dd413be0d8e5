// The webmail's JSON API (docs/webmail-api.md): every request of the page
// goes through here. State-changing requests carry the CSRF token from the
// login reply; a 401 anywhere means the session ended.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrf = null;
let onLoggedOut = () => {};

export function setCsrf(token) {
  csrf = token;
}

export function onUnauthorized(fn) {
  onLoggedOut = fn;
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'The server cannot be reached.');
  }
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (!r.ok) {
    if (r.status === 401 && path !== '/api/login' && path !== '/api/session') onLoggedOut();
    throw new ApiError(r.status, (data && data.error) || r.statusText || 'Request failed');
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);

// Uploads a File as an attachment, reporting progress (0..1). XHR, because
// fetch() cannot report upload progress.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/uploads?name=' + encodeURIComponent(file.name));
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (e) {
        data = null;
      }
      if (xhr.status === 201) resolve(data);
      else {
        if (xhr.status === 401) onLoggedOut();
        reject(new ApiError(xhr.status, (data && data.error) || 'Upload failed'));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'The server cannot be reached.'));
    xhr.send(file);
  });
}
