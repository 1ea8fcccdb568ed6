package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// setInterval types new times into one interval of the office hours editor.
func setInterval(p *page, row, open, close string) {
	p.t.Helper()
	p.clearField("the opening time", row+`.querySelector(".open")`)
	p.keys(open)
	p.clearField("the closing time", row+`.querySelector(".close")`)
	p.keys(close)
}

// TestBrowserOfficeHoursAreObeyed: an admin sets office hours in the
// settings page (a time zone, two intervals a day, a closed day, exceptions
// by date) that
// close the shop now; the page previews the next opening, and a visitor's
// handoff gets the away message with that same opening time.
func TestBrowserOfficeHoursAreObeyed(t *testing.T) {
	browser(t)
	e := newEnv(t)
	s := e.shop("Hours Shop")
	shop := shopPage(t, e.srv.URL, s.m.WidgetKey, "")
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	// Open every day, but today and the next two days are holidays: closed
	// now whatever the time, opening at 10:00 three days from now. (Should
	// midnight pass during the test, the same opening still holds.)
	now := time.Now().In(tokyo)
	var holidays []string
	for i := 0; i < 3; i++ {
		holidays = append(holidays, now.AddDate(0, 0, i).Format(time.DateOnly))
	}
	open := now.AddDate(0, 0, 3)
	nextOpen := fmt.Sprintf("%s %d %s at 10:00 (Asia/Tokyo)", open.Weekday(), open.Day(), open.Month())

	admin := newPage(t, "admin")
	signIn(admin, e.srv.URL, "hoursshop-admin@example.com", "admin-password")
	openSettings(admin)
	admin.wait("the office hours", `document.querySelectorAll("#week .day .intervals li").length === 7 && document.querySelector("#hours-preview").textContent === "Open now."`)
	admin.choose("the time zone", `document.querySelector("#timezone")`, "Asia/Tokyo")

	day := func(d string) string { return `document.querySelector("#week [data-day=` + d + `]")` }
	setInterval(admin, day("mon")+`.querySelector(".intervals li")`, "10:00", "12:00")
	admin.click("add hours on Monday", `document.querySelector("[aria-label='Add hours on Monday']")`)
	setInterval(admin, day("mon")+`.querySelector(".intervals li:nth-child(2)")`, "13:00", "16:30")
	admin.click("copy Monday", byText("document", "#week button", "Copy to Tuesday–Friday"))
	admin.wait("Monday's hours on Friday", day("fri")+`.querySelectorAll(".intervals li").length === 2 && `+day("fri")+`.querySelector(".intervals li:nth-child(2) .close").value === "16:30"`)
	for _, d := range []string{"sat", "sun"} {
		setInterval(admin, day(d)+`.querySelector(".intervals li")`, "10:00", "16:30")
	}
	// And one weekday closed, the day after the opening: it must not move it.
	closed := strings.ToLower(open.AddDate(0, 0, 1).Weekday().String()[:3])
	for eval[int](admin, day(closed)+`.querySelectorAll(".intervals li").length`) > 0 {
		admin.click("remove hours on "+closed, day(closed)+`.querySelector(".intervals li button")`)
	}
	admin.wait(closed+" closed", `!`+day(closed)+`.querySelector(".closed-note").hidden`)
	for i, date := range holidays {
		admin.click("add a date", `document.querySelector("#add-exception")`)
		admin.choose("the exception's date", fmt.Sprintf(`document.querySelector("#exceptions li:nth-child(%d) .ex-date")`, i+1), date)
	}

	// An interval that closes before it opens is refused in the page.
	closedName := open.AddDate(0, 0, 1).Weekday().String()
	admin.click("add hours on "+closedName, `document.querySelector("[aria-label='Add hours on `+closedName+`']")`)
	setInterval(admin, day(closed)+`.querySelector(".intervals li")`, "18:00", "17:00")
	admin.click("save", byText("document", "#hours-form button", "Save office hours"))
	admin.wait("the refusal", day(closed)+`.querySelector(".row-error").textContent.includes("closes before it opens") && document.querySelector("#hours-status").textContent.startsWith("Not saved")`)
	admin.click("remove it", `document.querySelector("[aria-label='Remove `+closedName+` hours 1']")`)

	admin.click("save", byText("document", "#hours-form button", "Save office hours"))
	admin.wait("the preview of the next opening", `document.querySelector("#hours-preview").textContent === `+jsq("Closed now. Opens "+nextOpen+"."))

	admin.typeInto("the away message", `document.querySelector("#away-message")`, "We are out fishing.")
	admin.click("save", byText("document", "#messages-form button", "Save messages"))
	admin.wait("the saved messages", `document.querySelector("#messages-status").textContent === "Saved."`)

	// What the page saved is what Baton keeps.
	code, body := e.do("GET", "/v1/admin/office-hours", s.adminToken, nil)
	require.Equal(t, 200, code)
	require.Equal(t, "Asia/Tokyo", body["timezone"])
	split := []any{map[string]any{"open": "10:00", "close": "12:00"}, map[string]any{"open": "13:00", "close": "16:30"}}
	whole := []any{map[string]any{"open": "10:00", "close": "16:30"}}
	week := map[string]any{"mon": split, "tue": split, "wed": split, "thu": split, "fri": split, "sat": whole, "sun": whole}
	delete(week, closed)
	require.Equal(t, week, body["weekly"])
	var exceptions []any
	for _, d := range holidays {
		exceptions = append(exceptions, map[string]any{"date": d, "closed": true})
	}
	require.Equal(t, exceptions, body["exceptions"])
	require.Equal(t, false, body["now"].(map[string]any)["open"])

	// The gateway obeys them.
	visitor := newPage(t, "visitor")
	visitor.navigate(shop.URL)
	openWidget(visitor)
	visitor.wait("the away line", inWidget(".status")+`.textContent.startsWith("We are away right now. We are back ")`)
	handOffInWidget(visitor, "late@example.com")
	visitor.wait("the away message with the next opening", `Array.from(`+widgetRoot+`.querySelectorAll("[data-role=system] .text")).some(n => n.textContent === `+jsq("We are out fishing. We're back on "+nextOpen+".")+`)`)
	visitor.wait("the queue line, still away", inWidget(".status")+`.textContent.includes("in the queue") && `+inWidget(".status")+`.textContent.includes("We are away right now.")`)
}
