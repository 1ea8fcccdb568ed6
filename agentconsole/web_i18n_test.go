package agentconsole

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// consoleTexts reads web/i18n/*.json: language -> key -> text.
func consoleTexts(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for name, body := range webFiles(t, ".json") {
		if !strings.HasPrefix(name, "i18n/") {
			continue
		}
		m := map[string]string{}
		require.NoError(t, json.Unmarshal([]byte(body), &m), name)
		out[strings.TrimSuffix(strings.TrimPrefix(name, "i18n/"), ".json")] = m
	}
	require.Contains(t, out, "en")
	require.Contains(t, out, "nl")
	return out
}

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

func placeholders(s string) []string {
	ps := placeholder.FindAllString(s, -1)
	sort.Strings(ps)
	return ps
}

// Every language says everything English says, with the same blanks to
// fill in: a missing key would show English in the middle of Dutch, a
// missing blank would drop a name or a number.
func TestConsoleLanguagesHaveEveryText(t *testing.T) {
	langs := consoleTexts(t)
	en := langs["en"]
	for name, m := range langs {
		for k := range en {
			_, ok := m[k]
			require.True(t, ok, "%s.json lacks %s", name, k)
		}
		for k, v := range m {
			_, ok := en[k]
			require.True(t, ok, "%s.json has %s, which en.json does not", name, k)
			require.NotEmpty(t, strings.TrimSpace(v), "%s.json: %s is blank", name, k)
			// messages.awayHint names {next_open} for the merchant to write.
			require.Equal(t, placeholders(en[k]), placeholders(v), "%s.json: %s fills in other blanks than English", name, k)
		}
	}
}

// Every key the page and the scripts ask for exists, and every text is
// asked for: no agent sees a key name, and no text is kept that nothing
// shows.
func TestConsoleUsesOnlyKnownTexts(t *testing.T) {
	en := consoleTexts(t)["en"]
	namespaces := map[string]bool{}
	for k := range en {
		namespaces[strings.SplitN(k, ".", 2)[0]] = true
	}
	var all strings.Builder
	used := map[string]bool{}
	plural := map[string]bool{}
	htmlKey := regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="([^"]+)"`)
	for _, html := range webFiles(t, ".html") {
		all.WriteString(html)
		for _, m := range htmlKey.FindAllStringSubmatch(html, -1) {
			used[m[1]] = true
		}
	}
	// Keys are string literals: t("a.b"), tn("a.b", n) and tables of keys.
	literal := regexp.MustCompile(`"([a-z]+\.[a-zA-Z_.]+)"`)
	tn := regexp.MustCompile(`\btn\("([a-zA-Z_.]+)"`)
	for name, js := range webFiles(t, ".js") {
		all.WriteString(js)
		for _, m := range literal.FindAllStringSubmatch(js, -1) {
			if namespaces[strings.SplitN(m[1], ".", 2)[0]] && !strings.HasSuffix(m[1], ".js") {
				used[m[1]] = true
			}
		}
		for _, m := range tn.FindAllStringSubmatch(js, -1) {
			plural[m[1]] = true
			delete(used, m[1])
		}
		require.NotContains(t, js, "t(`", "%s: a key made at run time cannot be checked", name)
	}
	has := func(k string) bool { _, ok := en[k]; return ok }
	for k := range used {
		// A table of keys for tn names the plural's base.
		if !has(k) && has(k+".one") {
			plural[k] = true
			continue
		}
		require.True(t, has(k), "the console asks for %q, which en.json does not have", k)
	}
	for k := range plural {
		require.True(t, has(k+".one") && has(k+".other"), "tn(%q) needs %s.one and %s.other", k, k, k)
	}
	for k := range en {
		base := strings.TrimSuffix(strings.TrimSuffix(k, ".one"), ".other")
		require.True(t, used[k] || plural[base], "en.json has %q, which nothing in the console shows", k)
	}
}
