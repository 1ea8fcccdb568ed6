package vcon

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Check reads raw as a generic JSON document and reports every way it
// breaks the draft's rules for what Baton writes (MUSTs, and the SHOULDs
// Baton keeps), each with its section. It works on the bytes rather than
// on VCon, so it also catches what encoding would lose or rename.
func Check(raw []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var errs []error
	bad := func(section, format string, args ...any) {
		errs = append(errs, fmt.Errorf("§"+section+": "+format, args...))
	}
	if v, ok := doc["vcon"]; ok && v != Version {
		bad("4.1.1", "vcon is %v, want %q", v, Version)
	}
	if u, _ := doc["uuid"].(string); !uuidPattern.MatchString(u) {
		bad("4.1.2", "uuid %q is not a version 8 UUID", doc["uuid"])
	}
	if !isDate(doc["created_at"]) {
		bad("4.1.5", "created_at %v is not an RFC 3339 date", doc["created_at"])
	}
	if v, ok := doc["updated_at"]; ok && !isDate(v) {
		bad("4.1.6", "updated_at %v is not an RFC 3339 date", v)
	}
	if _, r := doc["redacted"]; r {
		if _, a := doc["amended"]; a {
			bad("4.1.8", "redacted and amended together")
		}
	}
	for _, gone := range []string{"group", "appended", "must_support"} {
		if _, ok := doc[gone]; ok {
			bad("7.1", "%s is not a parameter of 0.4.0", gone)
		}
	}
	parties, _ := doc["parties"].([]any)
	dialogs, _ := doc["dialog"].([]any)
	if len(parties) == 0 && len(dialogs) == 0 && doc["attachments"] == nil && doc["analysis"] == nil {
		bad("4", "none of parties, dialog, analysis, attachments")
	}
	for i, p := range parties {
		p, _ := p.(map[string]any)
		if p == nil {
			bad("4.2", "party %d is not an object", i)
			continue
		}
		if t, ok := p["type"]; ok && t != "person" && t != "bot" && t != "organization" {
			bad("4.2.11", "party %d type %v", i, t)
		}
		if _, ok := p["name"]; ok && p["validation"] == nil {
			bad("4.2.7", "party %d has a name and no validation", i)
		}
		if _, ok := p["role"]; ok {
			bad("4.2", "party %d has role, not a parameter of 0.4.0", i)
		}
	}
	index := func(v any, n int) bool {
		f, ok := v.(float64)
		return ok && f >= 0 && f < float64(n) && f == float64(int(f))
	}
	for i, d := range dialogs {
		d, _ := d.(map[string]any)
		if d == nil {
			bad("4.3", "dialog %d is not an object", i)
			continue
		}
		switch d["type"] {
		case "recording", "recording-set", "transfer", "incomplete":
		case "text":
			if !isDate(d["start"]) {
				bad("4.3.2", "dialog %d start %v", i, d["start"])
			}
			ps, _ := d["parties"].([]any)
			if len(ps) == 0 {
				bad("4.3.4", "dialog %d has no parties", i)
			}
			for _, p := range ps {
				if !index(p, len(parties)) {
					bad("4.3.4", "dialog %d party %v is not an index into parties", i, p)
				}
			}
			if o, ok := d["originator"]; ok && !index(o, len(parties)) {
				bad("4.3.5", "dialog %d originator %v", i, o)
			}
			if m, _ := d["mediatype"].(string); !mediatype.MatchString(m) {
				bad("4.3.8", "dialog %d mediatype %q", i, d["mediatype"])
			}
			checkContent(bad, fmt.Sprintf("dialog %d", i), d)
			for _, x := range []string{"recordings", "recording_set", "transferee", "transferor", "transfer_target",
				"original", "consultation", "target_dialog", "disposition"} {
				if _, ok := d[x]; ok {
					bad("4.3.1.6", "text dialog %d has %s", i, x)
				}
			}
		default:
			bad("4.3.1", "dialog %d type %v", i, d["type"])
		}
	}
	atts, _ := doc["attachments"].([]any)
	for i, a := range atts {
		a, _ := a.(map[string]any)
		if a == nil {
			bad("4.4", "attachment %d is not an object", i)
			continue
		}
		if _, ok := a["type"]; ok {
			bad("4.4.1", "attachment %d has type; 0.4.0 calls it purpose", i)
		}
		if !isDate(a["start"]) {
			bad("4.4.2", "attachment %d start %v", i, a["start"])
		}
		if !index(a["party"], len(parties)) {
			bad("4.4.3", "attachment %d party %v", i, a["party"])
		}
		if !index(a["dialog"], len(dialogs)) {
			bad("4.4.4", "attachment %d dialog %v", i, a["dialog"])
		}
		if m, _ := a["mediatype"].(string); !mediatype.MatchString(m) {
			bad("4.4.5", "attachment %d mediatype %q", i, a["mediatype"])
		}
		checkContent(bad, fmt.Sprintf("attachment %d", i), a)
	}
	ans, _ := doc["analysis"].([]any)
	for i, a := range ans {
		a, _ := a.(map[string]any)
		if a == nil || a["type"] == nil || a["vendor"] == nil {
			bad("4.5", "analysis %d needs type and vendor", i)
			continue
		}
		ds, _ := a["dialog"].([]any)
		for _, d := range ds {
			if !index(d, len(dialogs)) {
				bad("4.5.2", "analysis %d dialog %v", i, d)
			}
		}
		checkContent(bad, fmt.Sprintf("analysis %d", i), a)
	}
	return errors.Join(errs...)
}

// checkContent applies §2.3.2: a body that is not empty needs an encoding
// of the three, and a string body unless the encoding is json.
func checkContent(bad func(string, string, ...any), what string, o map[string]any) {
	body, ok := o["body"]
	if !ok || body == "" {
		return
	}
	switch o["encoding"] {
	case "json":
	case "none", "base64url":
		if _, isString := body.(string); !isString {
			bad("2.3.2", "%s: encoding %v needs a string body", what, o["encoding"])
		}
	default:
		bad("2.3.2", "%s: encoding %v", what, o["encoding"])
	}
}

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	mediatype   = regexp.MustCompile(`^[a-z]+/[a-z0-9.+-]+(;.*)?$`)
)

func isDate(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}
