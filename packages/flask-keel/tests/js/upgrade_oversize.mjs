// Drives the official socket.io-client against the app: connect with the default
// transports (polling, then an upgrade to websocket), send a message larger than
// the server's SOCKETIO_MAX_MESSAGE_SIZE while the upgrade is in progress, and
// report what happens as JSON lines on stdout, one object per line:
//
//   {"t": ms since start, "event": "connect" | "upgrading" | "upgrade" | "sent" |
//    "disconnect" | "connect_error" | "upgrade_error" | "engine_close" | "ack" | ...}
//
// and then {"event": "summary", ...} with `ended` (the connection ended, seen by
// the client), `acked` (the message was answered: it was not oversized) and
// `hung` (neither, when the time ran out).
//
// Usage: node upgrade_oversize.mjs URL [COOKIE] [CSRF_TOKEN]
//   URL          http://127.0.0.1:PORT (also SIO_URL)
//   COOKIE       "session=..." (also SIO_COOKIE)
//   CSRF_TOKEN   the session's token, sent in `auth` (also SIO_CSRF)
// Environment:
//   SIO_WHEN     connect   (default) emit as soon as the namespace connects: races
//                          the upgrade probe, as a page sending at once would;
//                upgrading emit on the engine's "upgrading" event (probe answered,
//                          polling being paused);
//                probe     emit when the websocket probe has just been opened;
//                upgraded  emit after the upgrade;
//                polling   no upgrade at all (transports: ["polling"]);
//                none      send nothing oversized: ask `whoami` (a healthy client).
//   SIO_SIZE     bytes of the oversized payload (default 1.5 MiB)
//   SIO_TIMEOUT  seconds before giving up and reporting `hung` (default 10)
// Exits 0 when the run went as reported (whatever happened), 2 on bad arguments.

import { io } from "socket.io-client";

const url = process.argv[2] || process.env.SIO_URL;
const cookie = process.argv[3] || process.env.SIO_COOKIE || "";
const csrf = process.argv[4] || process.env.SIO_CSRF || "";
const when = process.env.SIO_WHEN || "connect";
const size = Number(process.env.SIO_SIZE || 1.5 * 1024 * 1024);
const timeout = Number(process.env.SIO_TIMEOUT || 10) * 1000;

if (!url || !/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(url)) {
  console.error("usage: node upgrade_oversize.mjs http://127.0.0.1:PORT [COOKIE] [CSRF_TOKEN]");
  process.exit(2);
}

const started = Date.now();
const state = { connected: false, upgraded: false, sent: false, acked: false, ended: false, reason: null,
                errors: [] };

function report(event, extra = {}) {
  process.stdout.write(JSON.stringify({ t: Date.now() - started, event, ...extra }) + "\n");
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  report("summary", { ...state, when, size, hung: !state.ended && !state.acked, elapsed: Date.now() - started });
  socket.io.reconnection(false);
  socket.close();
  // Whatever the engine still holds (a paused poll, a half-closed websocket) must not keep us alive.
  setTimeout(() => process.exit(0), 200).unref();
}

const headers = cookie ? { Cookie: cookie } : {};
const socket = io(url, {
  transports: when === "polling" ? ["polling"] : ["polling", "websocket"],
  upgrade: when !== "polling",
  reconnection: false,
  timeout: Math.min(timeout, 5000),
  auth: { csrf_token: csrf },
  extraHeaders: headers,
  // The websocket transport in Node takes its headers from here too.
  transportOptions: { polling: { extraHeaders: headers }, websocket: { extraHeaders: headers } },
});

const payload = "x".repeat(size);
function sendOversized(why) {
  if (state.sent) return;
  state.sent = true;
  report("sent", { why, bytes: size, transport: socket.io.engine && socket.io.engine.transport.name });
  socket.emit("rpc", { name: "echo", payload }, (answer) => {
    // Served (a message under the cap): the run is over too.
    state.acked = true;
    report("ack", { ok: answer && answer.ok });
    finish();
  });
}

const deadline = setTimeout(() => {
  report("timeout", { after_ms: timeout, engine_state: socket.io.engine && socket.io.engine.readyState,
                      transport: socket.io.engine && socket.io.engine.transport.name });
  finish();
}, timeout);

socket.io.on("open", () => {
  const engine = socket.io.engine;
  report("engine_open", { transport: engine.transport.name, sid: engine.id });
  engine.on("upgrading", (transport) => {
    report("upgrading", { to: transport.name });
    if (when === "upgrading") sendOversized("upgrading");
  });
  engine.on("upgrade", (transport) => {
    state.upgraded = true;
    report("upgrade", { to: transport.name });
    if (when === "upgraded") sendOversized("upgraded");
  });
  engine.on("upgradeError", (err) => {
    state.errors.push(`upgrade: ${err.message}`);
    report("upgrade_error", { message: err.message });
  });
  engine.on("close", (reason, description) => {
    report("engine_close", { reason, description: description && String(description.message || description) });
  });
  if (when === "probe") {
    // The websocket probe is created right after the engine opens; catch its opening.
    const original = engine.createTransport.bind(engine);
    engine.createTransport = (name) => {
      const transport = original(name);
      if (name === "websocket") transport.once("open", () => sendOversized("probe"));
      return transport;
    };
  }
});

socket.on("connect", () => {
  state.connected = true;
  report("connect", { transport: socket.io.engine.transport.name });
  if (when === "connect" || when === "polling") {
    sendOversized("connect");
  } else if (when === "none") {
    socket.emit("rpc", { name: "whoami" }, (answer) => {
      state.acked = true;
      report("ack", { ok: answer && answer.ok, username: answer && answer.result && answer.result.username });
      finish();
    });
  }
});

socket.on("connect_error", (err) => {
  state.errors.push(`connect: ${err.message}`);
  report("connect_error", { message: err.message });
  state.ended = true;
  finish();
});

socket.on("disconnect", (reason, description) => {
  state.ended = true;
  state.reason = reason;
  report("disconnect", { reason, description: description && String(description.message || description.description || description) });
  finish();
});
