package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func weekdayKey(d time.Time) string { return strings.ToLower(d.Weekday().String()[:3]) }

// setInterval types new times into one interval of the office hours editor.
func setInterval(p *page, row, open, close string) {
	p.t.Helper()
	p.clearField("the opening time", row+`.querySelector(".open")`)
	p.keys(open)
	p.clearField("the closing time", row+`.querySelector(".close")`)
	p.keys(close)
}

// TestBrowserOfficeHoursAreObeyed: an admin sets office hours in the
// settings page that close the shop now, with a holiday; the page previews
// the next opening, and a visitor's handoff gets the away message with that
// same opening time.
func TestBrowserOfficeHoursAreObeyed(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Hours Shop")
	shop := shopPage(t, e.srv.URL, s.m.WidgetKey, "")
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	// Open on the day after tomorrow and the day after that, but the first
	// of them is a holiday: closed now, whatever the time, and opening on
	// the later day.
	now := time.Now().In(tokyo)
	holiday, open := now.AddDate(0, 0, 2), now.AddDate(0, 0, 3)
	nextOpen := fmt.Sprintf("%s %d %s at 10:00 (Asia/Tokyo)", open.Weekday(), open.Day(), open.Month())

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "hoursshop-admin@example.com", "admin-password")
	admin.click("settings", `document.querySelector("#nav-settings")`)
	admin.wait("the office hours", `document.querySelectorAll("#week .day .intervals li").length === 7 && document.querySelector("#hours-preview").textContent === "Open now."`)
	admin.choose("the time zone", `document.querySelector("#timezone")`, "Asia/Tokyo")
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		admin.click("remove "+d, `document.querySelector("#week [data-day=`+d+`] .intervals button")`)
	}
	admin.wait("every day closed", `document.querySelectorAll("#week .closed-note:not([hidden])").length === 7`)
	for _, d := range []time.Time{holiday, open} {
		day := `document.querySelector("#week [data-day=` + weekdayKey(d) + `]")`
		admin.click("add hours on "+d.Weekday().String(), `document.querySelector("[aria-label='Add hours on `+d.Weekday().String()+`']")`)
		setInterval(admin, day+`.querySelector(".intervals li")`, "10:00", "16:30")
	}
	admin.click("add a date", `document.querySelector("#add-exception")`)
	admin.choose("the exception's date", `document.querySelector("#exceptions .ex-date")`, holiday.Format(time.DateOnly))

	// An interval that closes before it opens is refused in the page.
	sunday := `document.querySelector("#week [data-day=sun]")`
	if weekdayKey(holiday) != "sun" && weekdayKey(open) != "sun" {
		admin.click("add hours on Sunday", `document.querySelector("[aria-label='Add hours on Sunday']")`)
		setInterval(admin, sunday+`.querySelector(".intervals li")`, "12:00", "11:00")
		admin.click("save", byText("document", "#hours-form button", "Save office hours"))
		admin.wait("the refusal", sunday+`.querySelector(".row-error").textContent.includes("closes before it opens") && document.querySelector("#hours-status").textContent.startsWith("Not saved")`)
		admin.click("remove it", `document.querySelector("[aria-label='Remove Sunday hours 1']")`)
	}
	admin.click("save", byText("document", "#hours-form button", "Save office hours"))
	t.Log(eval[string](admin, `document.querySelector("#hours-preview").textContent`))
	admin.wait("the preview of the next opening", `document.querySelector("#hours-preview").textContent === `+jsq("Closed now. Opens "+nextOpen+"."))

	admin.typeInto("the away message", `document.querySelector("#away-message")`, "We are out fishing.")
	admin.click("save", byText("document", "#messages-form button", "Save messages"))
	admin.wait("the saved messages", `document.querySelector("#messages-status").textContent === "Saved."`)

	// What the page saved is what Baton keeps.
	code, body := e.do("GET", "/v1/admin/office-hours", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "Asia/Tokyo", body["timezone"])
	want := map[string]any{}
	for _, d := range []time.Time{holiday, open} {
		want[weekdayKey(d)] = []any{map[string]any{"open": "10:00", "close": "16:30"}}
	}
	require.Equal(t, want, body["weekly"])
	require.Equal(t, []any{map[string]any{"date": holiday.Format(time.DateOnly), "closed": true}}, body["exceptions"])
	require.Equal(t, false, body["now"].(map[string]any)["open"])

	// The gateway obeys them.
	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL)
	visitor.click("the launcher", inWidget(".launcher"))
	visitor.wait("the away line", inWidget(".status")+`.textContent.startsWith("We are away right now. We are back ")`)
	handOff(visitor, "late@example.com")
	visitor.wait("the away message with the next opening", `Array.from(`+widgetRoot+`.querySelectorAll("[data-role=system] .text")).some(n => n.textContent === `+jsq("We are out fishing. We're back on "+nextOpen+".")+`)`)
	visitor.wait("the queue line, still away", inWidget(".status")+`.textContent.includes("in the queue") && `+inWidget(".status")+`.textContent.includes("We are away right now.")`)
}
