package session

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Lua script's arguments and reply are declared once, as Go structs:
//
//   - the argument struct's fields, in order, are the script's KEYS (tag
//     `lua:"name,key"`) and ARGV (`lua:"name"`); a []string field goes as a
//     count followed by its items;
//   - the reply struct's fields, in order, are the elements of the array the
//     script returns.
//
// The script's first lines are generated from those types: every key and
// argument becomes a Lua local (k_name, a_name), and a function reply{...}
// turns a table of named fields into the array, in the declared order. The
// script body only ever uses the names, so the two sides cannot drift;
// TestScriptLayouts checks that a body uses exactly what its types declare.

// script is a Lua script with typed arguments A and reply R.
type script[A, R any] struct {
	name   string
	rs     *redis.Script
	args   []luaField
	nkeys  int
	reply  []luaField
	source string   // prologue and body, as sent to Redis
	obs    Observer // hears every call; nil until the Service sets it
}

// observe makes every call of the script heard by obs.
func (s *script[A, R]) observe(obs Observer) { s.obs = obs }

func (s *script[A, R]) observed(start time.Time, err error) {
	if s.obs != nil {
		s.obs.ScriptCall(s.name, time.Since(start), err)
	}
}

// luaField is one declared key, argument or reply element.
type luaField struct {
	name  string
	index int // in the Go struct
	key   bool
	kind  reflect.Kind
	elem  reflect.Kind // for slices
}

func luaFields(t reflect.Type, what string) []luaField {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("session: %s type %s is not a struct", what, t))
	}
	var out []luaField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("lua")
		if !ok {
			panic(fmt.Sprintf("session: %s.%s has no lua tag", t.Name(), f.Name))
		}
		name, opt, _ := strings.Cut(tag, ",")
		lf := luaField{name: name, index: i, key: opt == "key", kind: f.Type.Kind()}
		switch lf.kind {
		case reflect.String, reflect.Int, reflect.Int64, reflect.Bool:
		case reflect.Slice:
			lf.elem = f.Type.Elem().Kind()
			if lf.elem != reflect.String {
				panic(fmt.Sprintf("session: %s.%s: only []string lists", t.Name(), f.Name))
			}
		case reflect.Map:
			if f.Type.Key().Kind() != reflect.String || f.Type.Elem().Kind() != reflect.String {
				panic(fmt.Sprintf("session: %s.%s: only map[string]string", t.Name(), f.Name))
			}
			if what == "argument" {
				panic(fmt.Sprintf("session: %s.%s: maps only in replies", t.Name(), f.Name))
			}
		default:
			panic(fmt.Sprintf("session: %s.%s has unsupported kind %s", t.Name(), f.Name, lf.kind))
		}
		out = append(out, lf)
	}
	return out
}

// newScript prepares body (a file under scripts/) with the prologue made
// from A and R.
func newScript[A, R any](name, body string) *script[A, R] {
	s := &script[A, R]{name: name}
	s.args = luaFields(reflect.TypeFor[A](), "argument")
	s.reply = luaFields(reflect.TypeFor[R](), "reply")
	var b strings.Builder
	b.WriteString("-- generated from the Go types of " + name + " (session/script.go); the body follows\n")
	keys, argv := 0, 0
	for _, f := range s.args {
		if f.key {
			keys++
			fmt.Fprintf(&b, "local k_%s = KEYS[%d]\n", f.name, keys)
		}
	}
	s.nkeys = keys
	hasList := false
	for _, f := range s.args {
		if !f.key && f.kind == reflect.Slice {
			hasList = true
		}
	}
	if hasList {
		b.WriteString("local argi = 0\nlocal function argn() argi = argi + 1; return ARGV[argi] end\n")
		b.WriteString("local function argl() local n, t = tonumber(argn()), {}; for j = 1, n do t[j] = argn() end; return t end\n")
	}
	for _, f := range s.args {
		if f.key {
			continue
		}
		switch {
		case hasList && f.kind == reflect.Slice:
			fmt.Fprintf(&b, "local a_%s = argl()\n", f.name)
		case hasList:
			fmt.Fprintf(&b, "local a_%s = argn()\n", f.name)
		default:
			argv++
			fmt.Fprintf(&b, "local a_%s = ARGV[%d]\n", f.name, argv)
		}
	}
	b.WriteString("local function reply(r) return {")
	for i, f := range s.reply {
		if i > 0 {
			b.WriteString(", ")
		}
		switch f.kind {
		case reflect.Slice, reflect.Map:
			fmt.Fprintf(&b, "r.%s or {}", f.name)
		case reflect.Bool:
			fmt.Fprintf(&b, "r.%s and 1 or 0", f.name)
		case reflect.Int, reflect.Int64:
			fmt.Fprintf(&b, "r.%s or 0", f.name)
		default:
			fmt.Fprintf(&b, "r.%s or ''", f.name)
		}
	}
	b.WriteString("} end\n")
	b.WriteString(body)
	s.source = b.String()
	s.rs = redis.NewScript(s.source)
	return s
}

// build returns the KEYS and ARGV for a.
func (s *script[A, R]) build(a *A) (keys []string, argv []any) {
	v := reflect.ValueOf(a).Elem()
	keys = make([]string, 0, s.nkeys)
	argv = make([]any, 0, len(s.args))
	for _, f := range s.args {
		fv := v.Field(f.index)
		if f.key {
			keys = append(keys, fv.String())
			continue
		}
		switch f.kind {
		case reflect.String:
			argv = append(argv, fv.String())
		case reflect.Int, reflect.Int64:
			argv = append(argv, fv.Int())
		case reflect.Bool:
			argv = append(argv, boolArg(fv.Bool()))
		case reflect.Slice:
			argv = append(argv, fv.Len())
			for j := range fv.Len() {
				argv = append(argv, fv.Index(j).String())
			}
		}
	}
	return keys, argv
}

// parse decodes the script's reply array into r.
func (s *script[A, R]) parse(v []any, r *R) error {
	if len(v) != len(s.reply) {
		return fmt.Errorf("%s: reply has %d elements, %d declared", s.name, len(v), len(s.reply))
	}
	rv := reflect.ValueOf(r).Elem()
	for i, f := range s.reply {
		fv := rv.Field(f.index)
		switch f.kind {
		case reflect.String:
			fv.SetString(replyString(v, i))
		case reflect.Int, reflect.Int64:
			n, _ := strconv.ParseInt(replyString(v, i), 10, 64)
			fv.SetInt(n)
		case reflect.Bool:
			fv.SetBool(replyString(v, i) == "1")
		case reflect.Slice:
			items, _ := v[i].([]any)
			out := reflect.MakeSlice(fv.Type(), len(items), len(items))
			for j := range items {
				out.Index(j).SetString(replyString(items, j))
			}
			fv.Set(out)
		case reflect.Map:
			items, _ := v[i].([]any)
			m := reflect.MakeMapWithSize(fv.Type(), len(items)/2)
			for j := 0; j+1 < len(items); j += 2 {
				m.SetMapIndex(reflect.ValueOf(replyString(items, j)), reflect.ValueOf(replyString(items, j+1)))
			}
			fv.Set(m)
		}
	}
	return nil
}

// run calls the script on rdb and decodes its reply.
func (s *script[A, R]) run(ctx context.Context, rdb redis.Scripter, a *A) (*R, error) {
	keys, argv := s.build(a)
	start := time.Now()
	v, err := s.rs.Run(ctx, rdb, keys, argv...).Slice()
	s.observed(start, err)
	if err != nil {
		return nil, err
	}
	var r R
	if err := s.parse(v, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// runBatched calls the script through the batcher, which shares round trips
// among concurrent callers.
func (s *script[A, R]) runBatched(ctx context.Context, b *batcher, a *A) (*R, error) {
	keys, argv := s.build(a)
	start := time.Now()
	v, err := b.run(ctx, s.rs, keys, argv...)
	s.observed(start, err)
	if err != nil {
		return nil, err
	}
	var r R
	if err := s.parse(v, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// replyString is element i of a script's reply as a string: Lua numbers come
// back as integers, everything else as strings; missing ones are empty.
func replyString(v []any, i int) string {
	if i < len(v) {
		switch x := v[i].(type) {
		case string:
			return x
		case int64:
			return strconv.FormatInt(x, 10)
		}
	}
	return ""
}
