// The console socket: signs in with its first frame, reconnects with
// backoff and jitter, and notices a dead connection by a ping that gets no
// answer. Every frame goes to onFrame; onState hears "connecting", "live"
// and "reconnecting". authFn makes the first frame: the token, and the seq
// each open conversation has reached, so the feeds resume from there.
// A socket closed with 4001 means the session was ended (signed out
// elsewhere, the password changed, the account disabled or removed):
// onRevoked(token) says whether to go on (the token was replaced meanwhile,
// by this page's own password change) or not, and then onFatal hears of
// it; it never reconnects with a token that was taken back.

export const CLOSE_REVOKED = 4001;

export class Live {
  constructor(authFn, onFrame, onState, onFatal, onRevoked) {
    this.authFn = authFn;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onFatal = onFatal;
    this.onRevoked = onRevoked || (async () => false);
    this.ws = null;
    this.attempts = 0;
    this.timer = 0;
    this.stopped = false;
    this.pingSent = 0;
    this.beat = setInterval(() => this.heartbeat(), 15000);
    this.online = () => { if (!this.ws) this.reconnectNow(); };
    window.addEventListener("online", this.online);
  }

  start() {
    if (this.ws || this.timer || this.stopped) return;
    this.onState(this.attempts ? "reconnecting" : "connecting");
    const proto = location.protocol === "https:" ? "wss://" : "ws://";
    let s;
    try {
      s = new WebSocket(proto + location.host + "/v1/agent/ws");
    } catch {
      this.retry();
      return;
    }
    this.ws = s;
    let authed = "";
    s.onopen = () => {
      const f = this.authFn();
      authed = f.token;
      s.send(JSON.stringify(f));
    };
    s.onmessage = (ev) => {
      if (this.ws !== s) return;
      this.pingSent = 0;
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      if (f.type === "ready") {
        this.attempts = 0;
        this.onState("live");
      }
      if (f.type === "error" && (f.code === "invalid_token" || f.code === "auth_required")) {
        this.stop();
        this.onFatal(f);
        return;
      }
      // The close with 4001 that follows says what becomes of the console.
      if (f.type === "error" && f.code === "token_revoked") return;
      this.onFrame(f);
    };
    s.onclose = async (ev) => {
      if (this.ws !== s) return;
      this.ws = null;
      if (ev.code === CLOSE_REVOKED) {
        this.onState("reconnecting");
        if (!this.stopped && await this.onRevoked(authed)) {
          this.start();
          return;
        }
        if (this.stopped) return;
        this.stop();
        this.onFatal({ code: "token_revoked" });
        return;
      }
      this.retry();
    };
  }

  retry() {
    if (this.stopped || this.timer) return;
    this.onState("reconnecting");
    const base = Math.min(20000, 400 * 2 ** this.attempts);
    this.attempts++;
    this.timer = setTimeout(() => { this.timer = 0; this.start(); }, base / 2 + Math.random() * base / 2);
  }

  reconnectNow() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.start();
  }

  heartbeat() {
    if (!this.ws || this.ws.readyState !== 1) return;
    if (this.pingSent && Date.now() - this.pingSent > 10000) {
      this.ws.close();
      return;
    }
    if (!this.pingSent) {
      this.pingSent = Date.now();
      this.send({ type: "ping" });
    }
  }

  send(f) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify(f));
      return true;
    }
    return false;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.beat);
    window.removeEventListener("online", this.online);
    if (this.ws) {
      const s = this.ws;
      this.ws = null;
      s.close(1000);
    }
  }
}
