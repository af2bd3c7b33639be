/* creditbot web chat widget: one script tag, no dependencies, nothing from a CDN.
 *
 *   <script src="https://host/widget.js" data-lang="zh|en" data-open="true"
 *           data-container="#chat" data-title="..."></script>
 *
 * The protocol is described in bot/webchat.py. Everything a message carries is rendered with
 * textContent or as an attribute value, never as HTML (B46): markup shows as the literal text.
 */
(function () {
  "use strict";
  var I18N = /*@I18N@*/{};
  var script = document.currentScript;
  if (!script || window.CreditbotWidget) return;

  var ORIGIN = new URL(script.src, location.href).origin;
  var WS_URL = ORIGIN.replace(/^http/, "ws") + "/ws/chat";
  var OPTS = script.dataset;
  var MAX_FILE = 256 * 1024;
  var FILE_URL = /^\/files\/[A-Za-z0-9_-]+$/;
  var PNG = /^data:image\/png;base64,[A-Za-z0-9+/=]+$/;
  var memory = {};

  function load(key) {
    try { return localStorage.getItem("creditbot." + key); } catch (e) { return memory[key] || null; }
  }
  function save(key, value) {
    try { localStorage.setItem("creditbot." + key, value); } catch (e) { memory[key] = value; }
    return value;
  }
  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }
  function pickLang(hint) { return /^en/i.test(hint || "") ? "en" : "zh"; }

  var session = load("session");
  if (!/^[0-9a-f]{32}$/.test(session || "")) session = save("session", randomHex(16));  // 128 bits
  var lang = pickLang(load("lang") || OPTS.lang || navigator.language);

  function t(key, params) {
    var text = (I18N[lang] || {})[key] || (I18N.zh || {})[key] || key;
    return text.replace(/\{(\w+)\}/g, function (_, name) { return params && name in params ? params[name] : ""; });
  }

  // -- the page -----------------------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }
  function button(cls, onClick) {
    var b = el("button", cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  var labels = [];  // [node, attribute or null for text, key]: relabelled on a language switch
  function label(node, attr, key) { labels.push([node, attr, key]); return node; }
  // Nodes inside the log carry their key (and its parameters) on themselves, so the chat's own
  // labels follow a language switch too without a list that grows with the conversation.
  function tr(node, key, params, attr) {
    node.dataset.i18n = key;
    if (params) node.dataset.i18nParams = JSON.stringify(params);
    if (attr) node.dataset.i18nAttr = attr;
    translate(node);
    return node;
  }
  function translate(node) {
    var params = node.dataset.i18nParams ? JSON.parse(node.dataset.i18nParams) : null;
    var text = t(node.dataset.i18n, params);
    if (node.dataset.i18nAttr) node.setAttribute(node.dataset.i18nAttr, text); else node.textContent = text;
  }

  var container = OPTS.container ? document.querySelector(OPTS.container) : null;
  var root = el("div", "cb-root" + (container ? " cb-inline" : " cb-floating"));
  var launcher = label(button("cb-launcher", function () { setOpen(true); }), null, "widget.open");
  var panel = el("section", "cb-panel");
  var header = el("div", "cb-header");
  var title = el("h2", "cb-title");
  var agentBtn = label(button("cb-agent", function () { sendText("/agent", t("widget.agent")); }), null, "widget.agent");
  var langBtn = label(button("cb-lang", switchLang), "aria-label", "widget.language");
  var closeBtn = label(button("cb-close", function () { setOpen(false); launcher.focus(); }), "aria-label", "widget.close");
  closeBtn.textContent = "×";
  var status = el("div", "cb-status");
  status.setAttribute("role", "status");
  var log = label(el("ol", "cb-log"), "aria-label", "widget.messages");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.tabIndex = 0;
  var typing = label(el("div", "cb-typing"), null, "widget.typing");
  typing.setAttribute("role", "status");
  typing.hidden = true;
  var form = el("form", "cb-form");
  var uploadBtn = label(button("cb-upload", function () { fileInput.click(); }), "aria-label", "widget.upload");
  uploadBtn.textContent = "+";
  label(uploadBtn, "title", "widget.upload");
  var fileInput = el("input", "cb-file");
  fileInput.type = "file";
  fileInput.hidden = true;
  fileInput.tabIndex = -1;
  var input = label(el("input", "cb-input"), "aria-label", "widget.input");
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = 4096;
  var sendBtn = label(el("button", "cb-send"), null, "widget.send");
  sendBtn.type = "submit";

  header.append(title, agentBtn, langBtn);
  if (!container) header.append(closeBtn);
  form.append(uploadBtn, fileInput, input, sendBtn);
  panel.append(header, status, log, typing, form);
  root.append(panel);
  if (!container) root.append(launcher);
  var css = el("link");
  css.rel = "stylesheet";
  css.href = ORIGIN + "/widget.css";
  document.head.appendChild(css);
  (container || document.body).appendChild(root);

  function relabel() {
    root.lang = lang === "en" ? "en" : "zh-CN";
    labels.forEach(function (l) {
      if (l[1]) l[0].setAttribute(l[1], t(l[2])); else l[0].textContent = t(l[2]);
    });
    Array.prototype.forEach.call(log.querySelectorAll("[data-i18n]"), translate);
    title.textContent = OPTS.title || t("widget.title");
    langBtn.textContent = t("menu.lang");
    panel.setAttribute("aria-label", title.textContent);
    setSecret(secret);
    setStatus(statusKey);
  }
  function setOpen(open) {
    root.dataset.open = open ? "true" : "false";
    launcher.setAttribute("aria-expanded", String(open));
    panel.hidden = !open && !container;
    launcher.hidden = open;
    if (open) { input.focus(); scrollDown(); }
  }
  var secret = false;
  function setSecret(on) {
    secret = on;
    input.type = on ? "password" : "text";
    input.placeholder = t(on ? "widget.placeholder_secret" : "widget.placeholder");
  }
  var statusKey = "widget.connecting";
  function setStatus(key) {
    statusKey = key;
    status.textContent = key ? t(key) : "";
    root.dataset.connection = key === "widget.connected" ? "online" : "offline";
  }
  var typingTimer = 0;
  function setTyping(on) {
    typing.hidden = !on;
    root.dataset.busy = on ? "true" : "false";
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { setTyping(false); }, 90000);
  }
  var stuck = true;  // the list shows its newest message: keep it so when the panel changes size
  function scrollDown() { log.scrollTop = log.scrollHeight; stuck = true; }
  log.addEventListener("scroll", function () {
    stuck = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  });
  function keepDown() { if (stuck) scrollDown(); }
  if (window.ResizeObserver) new ResizeObserver(keepDown).observe(log);
  window.addEventListener("resize", keepDown);
  function setLang(next) {
    if (next === lang) return;
    lang = save("lang", next);
    relabel();
  }
  panel.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !container) { setOpen(false); launcher.focus(); }
  });

  // -- rendering the log --------------------------------------------------------------------
  var lastSeq = 0;
  var pending = [];  // frames sent or waiting, until the server acknowledges them

  function render(entry) {
    if (typeof entry.seq !== "number" || entry.seq <= lastSeq) return;  // shown already
    lastSeq = entry.seq;
    var from = entry.from === "user" || entry.from === "agent" ? entry.from : "bot";
    if (entry.lang === "zh" || entry.lang === "en") setLang(entry.lang);  // the conversation's language
    var item = el("li", "cb-msg cb-" + from);
    item.dataset.seq = String(entry.seq);
    item.dataset.from = from;
    if (from === "agent") item.append(tr(el("span", "cb-who"), "widget.agent_label", { name: String(entry.agent || "") }));
    else item.append(tr(el("span", "cb-sr"), from === "user" ? "widget.you" : "widget.bot"));
    if (typeof entry.image === "string" && PNG.test(entry.image)) {
      var img = tr(el("img", "cb-image"), "widget.captcha", null, "alt");
      img.src = entry.image;
      item.append(img);
    }
    if (entry.text) item.append(el("p", "cb-text", entry.text));
    if (entry.document && FILE_URL.test(entry.document.url || "")) item.append(documentButton(entry.document));
    if (Array.isArray(entry.buttons) && entry.buttons.length) item.append(choices(entry.buttons));
    log.append(item);
    if (entry.client_id) settle(entry.client_id);
    if (from !== "user") setSecret(entry.secret_input === true);
    scrollDown();
  }
  // The answers to one question ("/slot:value" each) may be typed as their number (error.choice.unknown
  // says so), so they show it; menu buttons are commands, which a number does not pick, so they do not.
  function numbered(buttons) {
    var slots = buttons.map(function (b) { var m = /^\/(\w+):/.exec(String(b.payload || "")); return m && m[1]; });
    return slots.every(function (name) { return name && name === slots[0]; });
  }
  function choices(buttons) {
    var group = tr(el("div", "cb-choices"), "widget.choices", null, "aria-label");
    group.setAttribute("role", "group");
    var withNumbers = numbered(buttons);
    buttons.forEach(function (b, i) {
      var title = String(b.title || ""), payload = String(b.payload || "");
      var node = button("cb-choice", function () { sendText(payload, title); input.focus(); });
      if (withNumbers) {
        node.append(el("span", "cb-num", String(i + 1)), " · ");
        node.dataset.number = String(i + 1);
      }
      node.append(title);
      node.dataset.payload = payload;
      group.append(node);
    });
    return group;
  }
  function documentButton(doc) {
    var filename = String(doc.filename || "report.pdf");
    var node = tr(button("cb-doc", function () { download(doc.url, filename); }), "widget.download",
                  { filename: filename });
    node.dataset.url = doc.url;
    return node;
  }
  function download(url, filename) {
    // The link needs the session too, in a header: so fetch it, then save the blob.
    fetch(ORIGIN + url, { headers: { "X-Chat-Session": session }, cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.blob(); })
      .then(function (blob) {
        var a = el("a");
        a.href = URL.createObjectURL(blob);
        a.download = filename;
        a.hidden = true;
        document.body.append(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 30000);
      })
      .catch(function () { notice(t("widget.download_failed")); });
  }
  function notice(text) {
    var item = el("li", "cb-notice", text);
    log.append(item);
    scrollDown();
  }

  // -- sending --------------------------------------------------------------------------------
  function submit(frame, shown) {
    frame.id = randomHex(8);
    var bubble = el("li", "cb-msg cb-user cb-pending", shown);
    bubble.dataset.pending = frame.id;
    bubble.append(el("span", "cb-sr", " " + t("widget.sending")));
    log.append(bubble);
    scrollDown();
    pending.push({ frame: frame, bubble: bubble });
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }
  function sendText(text, title) {
    // The bot's own language buttons switch the widget at once; the reply's "lang" confirms it.
    var switched = /^\/lang[_ ](en|zh)$/.exec(text);
    if (switched) setLang(switched[1]);
    var frame = { type: "message", text: text };
    if (title) frame.title = title;
    submit(frame, title || (secret ? "••••••" : text));
  }
  function settle(id, errorCode) {  // its echo arrived, or it was refused
    pending = pending.filter(function (p) {
      if (p.frame.id !== id) return true;
      if (errorCode) {
        p.bubble.classList.add("cb-failed");
        p.bubble.removeAttribute("data-pending");
        notice(t("widget.error." + errorCode));
      } else {
        p.bubble.remove();
      }
      return false;
    });
  }
  function acked(id) {  // the bubble stays until the echo (masked by the server) replaces it
    pending.forEach(function (p) { if (p.frame.id === id) p.acked = true; });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    sendText(text);
    input.focus();
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    if (!file.size || file.size > MAX_FILE) { notice(t("widget.file_too_large", { kb: MAX_FILE / 1024 })); return; }
    var reader = new FileReader();
    reader.onload = function () {
      var url = String(reader.result);
      submit({ type: "file", name: file.name, mime: file.type || "application/octet-stream",
               data_base64: url.slice(url.indexOf(",") + 1) }, "📎 " + file.name);
    };
    reader.readAsDataURL(file);
  });
  function switchLang() {
    sendText(lang === "zh" ? "/lang_en" : "/lang_zh", t("menu.lang"));
  }

  // -- the connection -------------------------------------------------------------------------
  var ws = null, attempt = 0, retryTimer = 0;

  var pausedUntil = 0;
  function connect() {
    clearTimeout(retryTimer);
    if (ws) return;
    setStatus(attempt ? "widget.reconnecting" : "widget.connecting");
    var sock = new WebSocket(WS_URL);
    ws = sock;
    sock.onopen = function () {
      sock.send(JSON.stringify({ type: "hello", session: session, after: lastSeq, lang: lang }));
      // What was not acknowledged goes again; the server runs each id once.
      pending.forEach(function (p) { if (!p.acked) sock.send(JSON.stringify(p.frame)); });
    };
    sock.onmessage = function (ev) {
      if (ws !== sock) return;
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      receive(frame);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      setTyping(false);
      setStatus("widget.reconnecting");
      var delay = Math.min(5000, 400 * Math.pow(2, attempt++)) * (0.75 + Math.random() / 2);
      delay = Math.max(delay, pausedUntil - Date.now());  // the server asked us to wait
      retryTimer = setTimeout(connect, delay);
    };
  }
  function receive(frame) {
    if (frame.type === "entry") render(frame);
    else if (frame.type === "ack") acked(frame.id);
    else if (frame.type === "typing") setTyping(frame.on === true);
    else if (frame.type === "ready") { attempt = 0; setStatus("widget.connected"); }
    else if (frame.type === "error") {
      if (frame.code === "too_many_conversations") pausedUntil = Date.now() + 60000;
      if (frame.id) settle(frame.id, frame.code); else notice(t("widget.error." + frame.code));
    }
  }
  window.addEventListener("online", function () { if (!ws) connect(); });

  window.CreditbotWidget = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    /** Drops the connection as a network failure would (tests); it reconnects by itself. */
    drop: function () { if (ws) ws.close(); },
    session: function () { return session; }
  };
  relabel();
  setTyping(false);
  setOpen(container ? true : OPTS.open === "true");
  connect();
})();
