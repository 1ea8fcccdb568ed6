package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// countFrames records the types of the frames the page's sockets send and
// receive (errors as "error:CODE", "+client_id" when they name a line), to
// count what went over the wire.
const countFrames = `
window.__frames = {sent: [], got: []};
(() => {
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        try { const f = JSON.parse(ev.data); window.__frames.got.push(f.type === "error" ? "error:" + f.code + (f.client_id ? "+client_id" : "") : f.type); } catch (e) {}
      });
    }
    send(data) {
      try { window.__frames.sent.push(JSON.parse(data).type); } catch (e) {}
      return super.send(data);
    }
  };
})();
`

// frameCount counts the frames of one type the page sent (dir "sent") or
// received ("got").
func frameCount(p *page, dir, typ string) int {
	p.t.Helper()
	return eval[int](p, `window.__frames.`+dir+`.filter(t => t === `+jsq(typ)+`).length`)
}

// widgetState is the readiness the widget shows its page.
func widgetState(p *page) (state, busy string) {
	p.t.Helper()
	s := eval[[]string](p, `[document.querySelector("#baton-chat").dataset.state || "", `+
		inWidget(".log")+`.getAttribute("aria-busy") || ""]`)
	return s[0], s[1]
}

// TestBrowserWidgetKeepsWhatIsPressedWhileConnecting: what a visitor does
// while the widget's socket cannot connect yet (the first time, or again
// after a drop) is kept and done once the socket is ready, exactly once.
func TestBrowserWidgetKeepsWhatIsPressedWhileConnecting(t *testing.T) {
	browser(t)
	cases := []struct {
		name      string
		reconnect bool // drop an established socket first
		act       func(v *page)
	}{
		{"talk to a person while connecting", false, func(v *page) {
			v.click("talk to a person", byText(widgetRoot, "button", "Talk to a person"))
		}},
		{"talk to a person while reconnecting", true, func(v *page) {
			v.click("talk to a person", byText(widgetRoot, "button", "Talk to a person"))
		}},
		{"a typed question while connecting", false, func(v *page) {
			v.typeInto("the composer", inWidget("textarea"), "I want to talk to a human please\r")
			v.wait("the line, pending", inWidget(".msg.pending")+` !== null`)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.shop("Gate Shop")
			gate := newGate(func(r *http.Request) bool { return r.URL.Path == "/v1/widget/ws" })
			baton := gatedServer(t, e, gate)
			proxy := newCutProxy(t, baton.URL)
			shop := shopPage(t, proxy.URL(), s.m.WidgetKey, "")

			v := newPage(t, "visitor", countFrames)
			v.navigate(shop.URL)
			if tc.reconnect {
				openWidget(v)
				gate.hold()
				proxy.cut()
			} else {
				gate.hold()
				v.click("the launcher", inWidget(".launcher"))
			}
			gate.waitHeld(t)
			tc.act(v)
			state, busy := widgetState(v)
			gate.release()

			v.wait("the offer", byText(widgetRoot, ".offer button", "Yes, connect me"))
			// The answer is taken: whatever an earlier press would still
			// bring has come by the time the next step's answer does.
			v.click("yes", byText(widgetRoot, ".offer button", "Yes, connect me"))
			v.wait("the email request", inWidget("input[type=email]")+` !== null`)
			require.Equal(t, 1, frameCount(v, "got", "handoff_offer"), "offers shown")
			require.Equal(t, 1, frameCount(v, "sent", "handoff_reply"), "answers sent")
			require.LessOrEqual(t, frameCount(v, "sent", "handoff_request"), 1, "requests sent")
			require.LessOrEqual(t, frameCount(v, "sent", "message"), 1, "lines sent")
			require.Zero(t, eval[int](v, widgetRoot+`.querySelectorAll(".offer").length`), "an offer still shown")

			// While held, the page could tell it was not ready yet.
			require.Equal(t, "connecting", state, "data-state while the socket was held")
			require.Equal(t, "true", busy, "aria-busy while the socket was held")
			state, busy = widgetState(v)
			require.Equal(t, "ready", state)
			require.Empty(t, busy)
		})
	}
}
