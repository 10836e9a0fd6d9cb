/*
 * Support assistant widget: one <script> tag, no build step.
 *
 *   <script src="https://assistant.example.com/static/widget.js" defer
 *           data-title="Ledgerly Help" data-greeting="Hi! How can I help?"
 *           data-primary-color="#2457d6" data-position="right" data-theme="auto"></script>
 *
 * Everything renders inside a shadow root, so the host page's CSS cannot reach in and ours
 * cannot leak out. Model output and source titles are untrusted: they only ever become DOM
 * text nodes (textContent) or links whose URL passed an http/https check; this file never
 * assigns innerHTML.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__supportAssistantLoaded) return;
  window.__supportAssistantLoaded = true;

  var data = script.dataset;
  var SERVER = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var STORE_KEY = "support-assistant:" + SERVER;
  var MAX_LENGTH = parseInt(data.maxLength || "2000", 10) || 2000;

  var TEXT = {
    title: "Help",
    greeting: "Hi! Ask me anything about our product.",
    placeholder: "Type your question…",
    send: "Send",
    open: "Open chat",
    close: "Close chat",
    newChat: "Start a new conversation",
    disclaimer: "The assistant can make mistakes. Check important information.",
    sources: "Sources",
    helpful: "Helpful",
    notHelpful: "Not helpful",
    thanks: "Thanks for the feedback!",
    handoff: "Talk to a human",
    handoffIntro: "We'll send this conversation to our support team.",
    handoffNeedQuestion: "Ask your question first, then we can pass the conversation on.",
    handoffEmail: "Your email (optional)",
    handoffNote: "Anything to add? (optional)",
    handoffSend: "Send to support",
    handoffCancel: "Cancel",
    abstained: "Would you like to talk to a human?",
    retry: "Retry",
    dropped: "The connection was interrupted.",
    error: "Something went wrong. Please try again.",
    typing: "The assistant is typing",
    you: "You",
    assistant: "Assistant",
    newConversation: "New conversation started."
  };
  Object.keys(TEXT).forEach(function (key) {
    var attr = "lang" + key.charAt(0).toUpperCase() + key.slice(1);
    if (data[attr]) TEXT[key] = data[attr];
  });
  if (data.title) TEXT.title = data.title;
  if (data.greeting) TEXT.greeting = data.greeting;

  // ------------------------------------------------------------------ small DOM helpers

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "text") node.textContent = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  var ICONS = {
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z",
    close: "M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z",
    send: "M2.01 21 23 12 2.01 3 2 10l15 2-15 2z",
    up: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    down: "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z",
    person: "M12 12c2.21 0 4-1.79 4-4s-1.79-4-4-4-4 1.79-4 4 1.79 4 4 4zm0 2c-2.67 0-8 1.34-8 4v2h16v-2c0-2.66-5.33-4-8-4z",
    refresh: "M17.65 6.35A7.958 7.958 0 0 0 12 4c-4.42 0-7.99 3.58-7.99 8s3.57 8 7.99 8c3.73 0 6.84-2.55 7.73-6h-2.08A5.99 5.99 0 0 1 12 18c-3.31 0-6-2.69-6-6s2.69-6 6-6c1.66 0 3.14.69 4.22 1.78L13 11h7V4l-2.35 2.35z"
  };

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  function safeUrl(raw) {
    if (typeof raw !== "string" || !raw) return null;
    try {
      var url = new URL(raw, location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, label, extraClass) {
    var a = el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", "class": extraClass });
    a.textContent = label;
    return a;
  }

  // ------------------------------------------------------------------ safe Markdown

  // Inline: `code`, **bold**, *italic*, [text](url), [1] citations, bare http(s) URLs.
  // A citation is what the server's rule (assistant/citations.py) calls one: numbers 1-99, not
  // inside code, and not an index — items[1], m[1][2] and a[1].b stay text (see isIndex).
  var INLINE = /(`[^`\n]+`)|\*\*([^*\n]+)\*\*|\*([^*\s][^*\n]*?)\*|\[([^\]\n]+)\]\(([^()\s]+)\)|\[([1-9]\d?(?:\s*,\s*[1-9]\d?)*)\]|(https?:\/\/[^\s<>()"']*[^\s<>()"'.,;:!?])/g;

  // "[1]" right after a word (or after an index's "]") is an index when a word, "[", "(" or
  // ".name" follows it; otherwise it is a citation written without a space ("costs $5[1].").
  function isIndex(text, start, end) {
    var before = text.slice(0, start);
    var attached = /\w$/.test(before) || /\w(?:\[[^\]\n]*\])+$/.test(before);
    if (!attached) return false;
    var after = text.slice(end);
    return /^(?:[\w[(]|\.\w)/.test(after) || /\]$/.test(before);
  }

  function citation(n, sources) {
    var src = null;
    for (var i = 0; i < sources.length; i++) if (sources[i].n === n) src = sources[i];
    var href = src && safeUrl(src.url);
    var label = "[" + n + "]";
    var node = href ? link(href, label, "cite") : el("span", { "class": "cite", text: label });
    if (src) node.setAttribute("title", String(src.title || ""));
    return node;
  }

  function renderInline(text, sources, parent, depth) {
    var last = 0;
    var match;
    var re = new RegExp(INLINE.source, "g");
    while ((match = re.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      last = re.lastIndex;
      if (match[1]) {
        parent.appendChild(el("code", { text: match[1].slice(1, -1) }));
      } else if (match[2] !== undefined && depth < 2) {
        var strong = el("strong");
        renderInline(match[2], sources, strong, depth + 1);
        parent.appendChild(strong);
      } else if (match[3] !== undefined && depth < 2) {
        var em = el("em");
        renderInline(match[3], sources, em, depth + 1);
        parent.appendChild(em);
      } else if (match[4] !== undefined) {
        var href = safeUrl(match[5]);
        parent.appendChild(href ? link(href, match[4]) : document.createTextNode(match[4]));
      } else if (match[6] !== undefined && isIndex(text, match.index, re.lastIndex)) {
        parent.appendChild(document.createTextNode(match[0]));
      } else if (match[6] !== undefined) {
        match[6].split(",").forEach(function (part) {
          parent.appendChild(citation(parseInt(part, 10), sources));
        });
      } else if (match[7] !== undefined) {
        var url = safeUrl(match[7]);
        parent.appendChild(url ? link(url, match[7]) : document.createTextNode(match[7]));
      } else {
        parent.appendChild(document.createTextNode(match[0]));
      }
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(text, sources) {
    var frag = document.createDocumentFragment();
    var lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    var para = [];
    var list = null;

    function flushPara() {
      if (!para.length) return;
      var p = el("p");
      para.forEach(function (line, k) {
        if (k) p.appendChild(el("br"));
        renderInline(line, sources, p, 0);
      });
      frag.appendChild(p);
      para = [];
    }
    function flushList() {
      if (list) frag.appendChild(list.node);
      list = null;
    }
    function listItem(kind, start, body) {
      flushPara();
      if (!list || list.kind !== kind) {
        flushList();
        list = { kind: kind, node: el(kind, kind === "ol" && start !== 1 ? { start: start } : null) };
      }
      var li = el("li");
      renderInline(body, sources, li, 0);
      list.node.appendChild(li);
    }

    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      var m;
      if (/^\s*```/.test(line)) {
        flushPara();
        flushList();
        var code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        frag.appendChild(el("pre", null, [el("code", { text: code.join("\n") })]));
      } else if (/^\s*$/.test(line)) {
        flushPara();
        flushList();
      } else if ((m = /^\s{0,3}#{1,6}\s+(.*)$/.exec(line))) {
        flushPara();
        flushList();
        var heading = el("p", { "class": "md-h" });
        renderInline(m[1], sources, heading, 0);
        frag.appendChild(heading);
      } else if ((m = /^\s*[-*+•]\s+(.*)$/.exec(line))) {
        listItem("ul", 1, m[1]);
      } else if ((m = /^\s*(\d{1,3})[.)]\s+(.*)$/.exec(line))) {
        listItem("ol", parseInt(m[1], 10), m[2]);
      } else {
        flushList();
        para.push(line);
      }
    }
    flushPara();
    flushList();
    return frag;
  }

  // ------------------------------------------------------------------ state

  var state = { token: null, tokenExp: 0, conversationId: null, messages: [], open: false };

  function load() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved === "object") {
        state.token = saved.token || null;
        state.tokenExp = saved.tokenExp || 0;
        state.conversationId = saved.conversationId || null;
        state.messages = Array.isArray(saved.messages) ? saved.messages.slice(-60) : [];
        state.open = !!saved.open;
      }
    } catch (e) { /* storage blocked (sandboxed frame): start fresh */ }
  }

  function save() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify({
        token: state.token, tokenExp: state.tokenExp, conversationId: state.conversationId,
        messages: state.messages.slice(-60), open: state.open
      }));
    } catch (e) { /* storage full or blocked: the widget still works for this page */ }
  }

  // ------------------------------------------------------------------ API

  function ApiFailure(status, code, message, retryAfter) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.retryAfter = retryAfter;
  }

  function DroppedStream(gotEvents) {
    this.gotEvents = gotEvents;
  }

  async function failureFrom(res) {
    var code = "http_" + res.status;
    var message = TEXT.error;
    try {
      var body = await res.json();
      if (body && body.error) {
        code = String(body.error.code || code);
        message = String(body.error.message || message);
      }
    } catch (e) { /* not JSON: keep the generic message */ }
    return new ApiFailure(res.status, code, message, res.headers.get("Retry-After"));
  }

  var sessionPromise = null;
  var renewTimer = null;

  function ensureSession(force) {
    if (!force && state.token && state.tokenExp - Date.now() > 30000) return Promise.resolve(state.token);
    if (sessionPromise) return sessionPromise;
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token; // renew: keeps the conversation
    var body = {};
    if (data.userId && data.userHash) body = { user_id: data.userId, user_hash: data.userHash };
    sessionPromise = fetch(SERVER + "/v1/session", {
      method: "POST", headers: headers, body: JSON.stringify(body), credentials: "omit", mode: "cors"
    }).then(async function (res) {
      if (!res.ok) throw await failureFrom(res);
      var json = await res.json();
      state.token = json.token;
      state.tokenExp = Date.now() + json.expires_in * 1000;
      save();
      clearTimeout(renewTimer);
      renewTimer = setTimeout(function () { ensureSession(true).catch(function () {}); },
        Math.max(10000, json.expires_in * 800));
      return state.token;
    }).finally(function () { sessionPromise = null; });
    return sessionPromise;
  }

  async function api(path, body) {
    for (var attempt = 0; attempt < 2; attempt++) {
      var token = await ensureSession(attempt > 0);
      var res = await fetch(SERVER + path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "Authorization": "Bearer " + token },
        body: JSON.stringify(body), credentials: "omit", mode: "cors"
      });
      if (res.ok) return res.json();
      var failure = await failureFrom(res);
      if (failure.status !== 401 || attempt > 0) throw failure;
    }
  }

  // Reads a text/event-stream body: blocks separated by a blank line, "event:" and "data:" lines.
  async function readEvents(res, onEvent) {
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    var finished = false;
    var gotEvents = false;
    function dispatch(block) {
      var name = "message";
      var payload = [];
      block.split("\n").forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") payload.push(value);
      });
      if (!payload.length) return;
      var parsed;
      try { parsed = JSON.parse(payload.join("\n")); } catch (e) { return; }
      gotEvents = true;
      if (name === "done" || name === "error") finished = true;
      onEvent(name, parsed);
    }
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (e) {
      if (e instanceof ApiFailure) throw e; // an "error" event from the server
      throw new DroppedStream(gotEvents);
    }
    if (buffer.trim()) dispatch(buffer);
    if (!finished) throw new DroppedStream(gotEvents);
  }

  async function streamChat(question, onEvent) {
    for (var attempt = 0; attempt < 2; attempt++) {
      var token = await ensureSession(attempt > 0);
      var res;
      try {
        res = await fetch(SERVER + "/v1/chat", {
          method: "POST",
          headers: { "Content-Type": "application/json", "Accept": "text/event-stream", "Authorization": "Bearer " + token },
          body: JSON.stringify({ message: question, conversation_id: state.conversationId || undefined }),
          credentials: "omit", mode: "cors"
        });
      } catch (e) {
        throw new DroppedStream(false);
      }
      if (res.ok) return readEvents(res, onEvent);
      var failure = await failureFrom(res);
      if (failure.status === 401 && attempt === 0) continue; // expired token: one fresh try
      if (failure.status === 404 && failure.code === "conversation_not_found" && attempt === 0) {
        state.conversationId = null; // the session that owned it is gone: start over
        continue;
      }
      throw failure;
    }
  }

  // ------------------------------------------------------------------ UI

  var host = el("div", { id: "support-assistant-widget" });
  var shadow = host.attachShadow({ mode: "open" });
  var theme = /^(light|dark|auto)$/.test(data.theme || "") ? data.theme : "auto";
  var root = el("div", { "class": "root " + theme + (data.position === "left" ? " left" : "") });
  root.hidden = true; // until our stylesheet has loaded: no flash of unstyled widget
  var stylesheet = el("link", { rel: "stylesheet", href: SERVER + "/static/widget.css" });
  stylesheet.addEventListener("load", function () { root.hidden = false; });
  stylesheet.addEventListener("error", function () { host.remove(); });
  shadow.appendChild(stylesheet);
  shadow.appendChild(root);

  if (data.primaryColor && window.CSS && CSS.supports("color", data.primaryColor)) {
    root.style.setProperty("--primary", data.primaryColor);
    var hex = /^#([0-9a-f]{6})$/i.exec(data.primaryColor);
    if (hex) {
      var v = parseInt(hex[1], 16);
      var luminance = (0.299 * (v >> 16) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255)) / 255;
      if (luminance > 0.62) root.style.setProperty("--on-primary", "#111111");
    }
  }

  var panelId = "sa-panel";
  var titleId = "sa-title";
  var launcher = el("button", {
    "class": "launcher", type: "button", "aria-label": TEXT.open, "aria-expanded": "false",
    "aria-controls": panelId, "aria-haspopup": "dialog"
  }, [icon("chat")]);

  var closeButton = el("button", { "class": "icon-button", type: "button", "aria-label": TEXT.close, title: TEXT.close }, [icon("close")]);
  var newButton = el("button", { "class": "icon-button", type: "button", "aria-label": TEXT.newChat, title: TEXT.newChat }, [icon("refresh")]);
  var humanButton = el("button", { "class": "icon-button", type: "button", "aria-label": TEXT.handoff, title: TEXT.handoff }, [icon("person")]);
  var header = el("div", { "class": "header" }, [
    el("h2", { "class": "title", id: titleId, text: TEXT.title }), humanButton, newButton, closeButton
  ]);

  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": TEXT.title });

  var handoffEmail = el("input", { "class": "field", type: "email", id: "sa-handoff-email", autocomplete: "email", maxlength: "254" });
  var handoffNote = el("textarea", { "class": "field", id: "sa-handoff-note", rows: "2", maxlength: "2000" });
  var handoffIntro = el("p", { text: TEXT.handoffIntro });
  var handoffSend = el("button", { "class": "primary", type: "submit", text: TEXT.handoffSend });
  var handoffCancel = el("button", { "class": "secondary", type: "button", text: TEXT.handoffCancel });
  var handoffForm = el("form", { "class": "handoff", hidden: true, "aria-label": TEXT.handoff }, [
    handoffIntro,
    el("label", { "for": "sa-handoff-email", text: TEXT.handoffEmail }), handoffEmail,
    el("label", { "for": "sa-handoff-note", text: TEXT.handoffNote }), handoffNote,
    el("div", { "class": "row" }, [handoffCancel, handoffSend])
  ]);

  var input = el("textarea", {
    rows: "1", placeholder: TEXT.placeholder, "aria-label": TEXT.placeholder, maxlength: String(MAX_LENGTH),
    enterkeyhint: "send"
  });
  var sendButton = el("button", { "class": "send", type: "submit", "aria-label": TEXT.send, title: TEXT.send }, [icon("send")]);
  var form = el("form", null, [input, sendButton]);
  var composer = el("div", { "class": "composer" }, [
    form,
    el("div", { "class": "footer" }, [el("span", { "class": "note", text: TEXT.disclaimer })])
  ]);

  var panel = el("div", {
    "class": "panel", id: panelId, role: "dialog", "aria-labelledby": titleId, "aria-modal": "false", hidden: true
  }, [header, log, handoffForm, composer]);
  root.appendChild(panel);
  root.appendChild(launcher);

  var busy = false;

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function scrollDown(force) {
    if (force || nearBottom()) log.scrollTop = log.scrollHeight;
  }

  function setOpen(open, moveFocus) {
    state.open = open;
    panel.hidden = !open;
    root.classList.toggle("open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? TEXT.close : TEXT.open);
    launcher.replaceChildren(icon(open ? "close" : "chat"));
    save();
    if (open) {
      scrollDown(true);
      if (moveFocus !== false) input.focus();
      ensureSession(false).catch(function () { /* shown when the first question fails */ });
    } else if (moveFocus !== false) {
      launcher.focus();
    }
  }

  function messageNode(role) {
    var bubble = el("div", { "class": "bubble" });
    var who = el("span", { "class": "sr-only", text: (role === "user" ? TEXT.you : TEXT.assistant) + ": " });
    var node = el("div", { "class": "msg " + role }, [who, bubble]);
    log.appendChild(node);
    return { node: node, bubble: bubble };
  }

  function addNotice(text) {
    var view = messageNode("notice");
    view.bubble.textContent = text;
    scrollDown(true);
    return view;
  }

  function renderSources(sources) {
    var items = sources.map(function (src) {
      var href = safeUrl(src.url);
      var title = String(src.title || src.url || "Source " + src.n);
      var name = [href ? link(href, title) : el("span", { text: title })];
      // Several passages of one page can be cited: the section tells them apart (as in Slack).
      if (src.section) name.push(el("span", { "class": "section", text: " \u2014 " + String(src.section) }));
      return el("li", null, [el("span", { "class": "n", text: src.n + "." }), el("span", null, name)]);
    });
    var label = el("span", { "class": "sources-label", text: TEXT.sources });
    return el("div", { "class": "sources", role: "group", "aria-label": TEXT.sources }, [label, el("ol", null, items)]);
  }

  function feedbackButtons(msg, view) {
    var up = el("button", { "class": "icon-button", type: "button", "aria-label": TEXT.helpful, title: TEXT.helpful, "aria-pressed": String(msg.rating === "up") }, [icon("up")]);
    var down = el("button", { "class": "icon-button", type: "button", "aria-label": TEXT.notHelpful, title: TEXT.notHelpful, "aria-pressed": String(msg.rating === "down") }, [icon("down")]);
    var thanks = el("span", { "class": "thanks", role: "status" });
    function rate(rating) {
      api("/v1/feedback", { answer_id: msg.answerId, rating: rating }).then(function () {
        msg.rating = rating;
        save();
        up.setAttribute("aria-pressed", String(rating === "up"));
        down.setAttribute("aria-pressed", String(rating === "down"));
        thanks.textContent = TEXT.thanks;
      }).catch(function (err) {
        thanks.textContent = err instanceof ApiFailure ? err.message : TEXT.error;
      });
    }
    up.addEventListener("click", function () { rate("up"); });
    down.addEventListener("click", function () { rate("down"); });
    var human = el("button", { "class": "link-button", type: "button", text: TEXT.handoff });
    human.addEventListener("click", showHandoff);
    var row = el("div", { "class": "actions" }, [up, down, thanks]);
    if (msg.abstained) {
      view.node.appendChild(el("div", { "class": "actions" }, [el("span", { text: TEXT.abstained + " " }), human]));
    } else if (msg.offerHandoff) {  // the customer asked for a person: the way there, with the answer
      view.node.appendChild(el("div", { "class": "actions" }, [human]));
    }
    return row;
  }

  function renderBot(msg, view) {
    view.bubble.replaceChildren(renderMarkdown(msg.text, msg.sources || []));
    while (view.node.childNodes.length > 2) view.node.removeChild(view.node.lastChild);
    if (msg.done) {
      if (msg.sources && msg.sources.length) view.node.appendChild(renderSources(msg.sources));
      if (msg.answerId) view.node.appendChild(feedbackButtons(msg, view));
    }
  }

  function renderMessage(msg) {
    var view = messageNode(msg.role);
    if (msg.role === "user") view.bubble.textContent = msg.text;
    else renderBot(msg, view);
    return view;
  }

  function typingIndicator() {
    return el("span", { "class": "typing", role: "status", "aria-label": TEXT.typing }, [el("span"), el("span"), el("span")]);
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
  }

  async function ask(question, retryView) {
    if (busy) return;
    setBusy(true);
    var msg = { role: "bot", text: "", sources: [], done: false };
    var view = retryView || messageNode("bot");
    view.node.classList.remove("error");
    view.node.setAttribute("aria-busy", "true");
    view.bubble.replaceChildren(typingIndicator());
    while (view.node.childNodes.length > 2) view.node.removeChild(view.node.lastChild);
    scrollDown(true);
    var scheduled = false;
    function paint() {
      scheduled = false;
      var follow = nearBottom(); // follow the stream unless the visitor scrolled up to read
      renderBot(msg, view);
      scrollDown(follow);
    }
    function onEvent(name, payload) {
      if (name === "sources") {
        msg.sources = Array.isArray(payload.sources) ? payload.sources : [];
      } else if (name === "token") {
        msg.text += String(payload.text || "");
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(paint);
        }
      } else if (name === "done") {
        msg.text = String(payload.answer || "");
        msg.sources = Array.isArray(payload.sources) ? payload.sources : [];
        msg.answerId = payload.answer_id || null;
        msg.abstained = !!payload.abstained;
        msg.offerHandoff = !!payload.offer_handoff;
        msg.done = true;
        if (payload.conversation_id) state.conversationId = payload.conversation_id;
        state.messages.push(msg);
        save();
        var follow = nearBottom();
        renderBot(msg, view);
        scrollDown(follow);
      } else if (name === "error") {
        throw new ApiFailure(0, String(payload.code || "error"), String(payload.message || TEXT.error), null);
      }
    }
    var autoRetried = false;
    for (;;) {
      try {
        await streamChat(question, onEvent);
        break;
      } catch (err) {
        if (err instanceof DroppedStream && !err.gotEvents && !autoRetried) {
          autoRetried = true; // one quiet retry for a connection that failed before any answer came
          await new Promise(function (resolve) { setTimeout(resolve, 800); });
          continue;
        }
        showFailure(view, err, question);
        break;
      }
    }
    view.node.setAttribute("aria-busy", "false");
    setBusy(false);
  }

  function showFailure(view, err, question) {
    view.node.classList.add("error");
    var text = err instanceof ApiFailure ? err.message : TEXT.dropped;
    if (err instanceof ApiFailure && err.status === 429 && err.retryAfter) {
      text += " (" + err.retryAfter + "s)";
    }
    view.bubble.replaceChildren(el("p", { text: text }));
    while (view.node.childNodes.length > 2) view.node.removeChild(view.node.lastChild);
    var retryable = !(err instanceof ApiFailure) || err.status === 0 || err.status === 429 || err.status >= 500;
    if (retryable) {
      var retry = el("button", { "class": "link-button retry", type: "button", text: TEXT.retry });
      retry.addEventListener("click", function () { ask(question, view); });
      view.node.appendChild(retry);
    }
    scrollDown(true);
  }

  function submitQuestion() {
    var question = input.value.trim();
    if (!question || busy) return;
    input.value = "";
    autosize();
    var msg = { role: "user", text: question };
    state.messages.push(msg);
    save();
    renderMessage(msg);
    ask(question, null);
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  function showHandoff() {
    handoffForm.hidden = false;
    var ready = !!state.conversationId;
    handoffIntro.textContent = ready ? TEXT.handoffIntro : TEXT.handoffNeedQuestion;
    handoffSend.disabled = !ready;
    (ready ? handoffEmail : handoffCancel).focus();
  }

  function hideHandoff() {
    handoffForm.hidden = true;
    input.focus();
  }

  handoffForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!state.conversationId) return;
    handoffSend.disabled = true;
    var body = { conversation_id: state.conversationId, page_url: location.href };
    if (handoffEmail.value.trim()) body.email = handoffEmail.value.trim();
    if (handoffNote.value.trim()) body.note = handoffNote.value.trim();
    api("/v1/handoff", body).then(function (res) {
      handoffForm.hidden = true;
      handoffNote.value = "";
      addNotice(String(res.message || TEXT.thanks));
      input.focus();
    }).catch(function (err) {
      handoffIntro.textContent = err instanceof ApiFailure ? err.message : TEXT.error;
    }).finally(function () { handoffSend.disabled = false; });
  });
  handoffCancel.addEventListener("click", hideHandoff);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitQuestion();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitQuestion();
    }
  });
  input.addEventListener("input", autosize);
  launcher.addEventListener("click", function () { setOpen(!state.open); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  humanButton.addEventListener("click", showHandoff);
  newButton.addEventListener("click", function () {
    state.conversationId = null;
    state.messages = [];
    save();
    log.replaceChildren();
    handoffForm.hidden = true;
    greet();
    addNotice(TEXT.newConversation);
    input.focus();
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && state.open) {
      event.stopPropagation();
      if (!handoffForm.hidden) hideHandoff();
      else setOpen(false);
    }
  });

  function greet() {
    var view = messageNode("bot");
    view.bubble.replaceChildren(renderMarkdown(TEXT.greeting, []));
  }

  function start() {
    load();
    greet();
    state.messages.forEach(renderMessage);
    document.body.appendChild(host);
    if (state.open || data.open === "true") setOpen(true, false); // restoring: leave the page's focus alone
  }

  window.SupportAssistant = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    ask: function (question) { setOpen(true); input.value = String(question || ""); submitQuestion(); }
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
