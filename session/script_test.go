package session

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session/sessiontest"
)

// layout is what one script declares and what its body uses.
type layout struct {
	name                       string
	body                       string
	keys, args, reply          []string
	argType, replyType         reflect.Type
	build                      func() (keys []string, argv []any)
	argFields                  []luaField
	usedKeys, usedArgs, usedRe []string
}

var (
	keyUse   = regexp.MustCompile(`\bk_([a-z_]+)\b`)
	argUse   = regexp.MustCompile(`\ba_([a-z_]+)\b`)
	replyUse = regexp.MustCompile(`reply\{([^}]*(?:\{[^}]*\}[^}]*)*)\}`)
	fieldUse = regexp.MustCompile(`(?:^|[,{]\s*)([a-z_]+)\s*=`)
)

func layoutOf[A, R any](s *script[A, R], body string) layout {
	l := layout{name: s.name, body: body, argType: reflect.TypeFor[A](), replyType: reflect.TypeFor[R](), argFields: s.args}
	for _, f := range s.args {
		if f.key {
			l.keys = append(l.keys, f.name)
		} else {
			l.args = append(l.args, f.name)
		}
	}
	for _, f := range s.reply {
		l.reply = append(l.reply, f.name)
	}
	l.usedKeys = uses(keyUse, body)
	l.usedArgs = uses(argUse, body)
	for _, m := range replyUse.FindAllStringSubmatch(body, -1) {
		for _, f := range fieldUse.FindAllStringSubmatch(m[1], -1) {
			l.usedRe = append(l.usedRe, f[1])
		}
	}
	l.usedRe = sortedSet(l.usedRe)
	l.build = func() ([]string, []any) {
		var a A
		fill(reflect.ValueOf(&a).Elem())
		return s.build(&a)
	}
	return l
}

func uses(re *regexp.Regexp, body string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return sortedSet(out)
}

func sortedSet(xs []string) []string {
	sort.Strings(xs)
	return slices.Compact(xs)
}

// fill gives every field of an argument struct a value that names it, so a
// builder's output shows which field went where.
func fill(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("<" + t.Field(i).Name + ">")
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1000 + i))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"<" + t.Field(i).Name + ".0>", "<" + t.Field(i).Name + ".1>"}))
		}
	}
}

func scriptLayouts() []layout {
	s := New(Options{})
	return []layout{
		layoutOf(s.applyScript, applySource),
		layoutOf(s.appendScript, appendSource),
		layoutOf(s.outboxScript, outboxSource),
		layoutOf(s.promoteScript, promoteSource),
		layoutOf(s.configScript, configSource),
		layoutOf(s.agentScript, agentSource),
		layoutOf(s.loginScript, loginSource),
		layoutOf(s.assignScript, assignSource),
		layoutOf(s.rateScript, rateSource),
		layoutOf(s.mailScript, mailSource),
		layoutOf(s.hdauth.script, hdauthSource),
		layoutOf(s.whcasScript, whcasSource),
		layoutOf(s.unawaitScript, unawaitSource),
	}
}

// TestScriptLayouts: every script's body uses exactly the keys, arguments and
// reply fields its Go types declare (no name used that is not declared,
// none declared that is never used), and its argument builder lays the
// values out in the declared order.
func TestScriptLayouts(t *testing.T) {
	for _, l := range scriptLayouts() {
		t.Run(l.name, func(t *testing.T) {
			require.Equal(t, sortedSet(slices.Clone(l.keys)), l.usedKeys, "keys used by the body vs declared by %s", l.argType)
			require.Equal(t, sortedSet(slices.Clone(l.args)), l.usedArgs, "arguments used by the body vs declared by %s", l.argType)
			require.Subset(t, l.reply, l.usedRe, "reply fields the body sets must be declared by %s", l.replyType)
			// Every declared reply field is set somewhere (code always is).
			require.ElementsMatch(t, l.reply, l.usedRe, "reply fields declared by %s but never set", l.replyType)

			keys, argv := l.build()
			require.Len(t, keys, len(l.keys))
			for i, name := range l.keys {
				require.Equal(t, "<"+l.argType.Field(fieldIndex(l, name)).Name+">", keys[i], "KEYS[%d] is %s", i+1, name)
			}
			// ARGV in declared order: each field's value (lists as a count
			// and their items) where the declaration puts it.
			i := 0
			for _, f := range l.argFields {
				if f.key {
					continue
				}
				name := l.argType.Field(f.index).Name
				switch f.kind {
				case reflect.String:
					require.Equal(t, "<"+name+">", argv[i], "ARGV[%d] is %s", i+1, f.name)
					i++
				case reflect.Int, reflect.Int64:
					require.EqualValues(t, 1000+f.index, argv[i], "ARGV[%d] is %s", i+1, f.name)
					i++
				case reflect.Bool:
					require.Equal(t, "1", argv[i], "ARGV[%d] is %s", i+1, f.name)
					i++
				case reflect.Slice:
					require.Equal(t, 2, argv[i], "ARGV[%d] counts %s", i+1, f.name)
					require.Equal(t, "<"+name+".0>", argv[i+1])
					require.Equal(t, "<"+name+".1>", argv[i+2])
					i += 3
				}
			}
			require.Len(t, argv, i)
		})
	}
}

func fieldIndex(l layout, name string) int {
	for _, f := range l.argFields {
		if f.name == name {
			return f.index
		}
	}
	return -1
}

// TestScriptsRunWithTheirLayouts: each script runs on Redis with arguments
// built from its type and answers a reply its type decodes.
func TestScriptsRunWithTheirLayouts(t *testing.T) {
	rdb, prefix := sessiontest.Redis(t)
	s := New(Options{Redis: rdb, Prefix: prefix})
	ctx := context.Background()
	meta, log, cids := s.convKeys("c_layout")

	r, err := s.applyScript.run(ctx, rdb, &applyArgs{Meta: meta, Log: log, Cids: cids, Channel: "ch", Pub: "PUBLISH",
		Need: statusSet(StatusAssistant), Cond: statusSet(StatusAssistant), ClientID: "x1", Now: 5, MaxSeq: 10, TTL: 60000,
		WantMeta: true, ConvID: "c_layout", Create: []string{fStatus, string(StatusAssistant), fMerchant, "m_1"},
		Once: []string{fCounted}, Fields: []string{fPrompt, "p"}, Base: []string{`"id":"e1","role":"visitor","text":"a"}`},
		After: []string{`"id":"e2","role":"assistant","text":"b"}`}})
	require.NoError(t, err)
	require.Equal(t, "ok", r.Code)
	require.True(t, r.Applied)
	require.Equal(t, "1", r.Once)
	require.EqualValues(t, 1, r.FirstSeq)
	require.Len(t, r.Entries, 2)
	require.Equal(t, "p", r.Meta[fPrompt])
	require.Equal(t, "m_1", r.Meta[fMerchant])
	ttl, err := rdb.PTTL(ctx, cids).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))

	a, err := s.appendScript.run(ctx, rdb, &appendArgs{Meta: meta, Log: log, Cids: cids, Channel: "ch", Pub: "PUBLISH",
		Need: statusSet(StatusAssistant), ClientID: "x1", Entry: `"id":"e3","role":"visitor","text":"c"}`, Now: 6, MaxSeq: 10, TTL: 60000})
	require.NoError(t, err)
	require.Equal(t, "dup", a.Code)
	require.EqualValues(t, 1, a.Seq)

	c, err := s.outboxScript.run(ctx, rdb, &casArgs{Meta: meta, Version: "0", Record: "{}", Ticket: "{}", Now: 7, ConvID: "c_layout"})
	require.NoError(t, err)
	require.Equal(t, "nf", c.Code)

	p, err := s.promoteScript.run(ctx, rdb, &promoteArgs{Due: s.keys.outboxDue(), Stream: s.keys.outbox(), Now: 8, Limit: 10})
	require.NoError(t, err)
	require.Zero(t, p.Moved)
}
