package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/batonchat/baton/session"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// adminService connects to REDIS_URL for the management commands, which
// make no sense on the demo's throwaway store.
func adminService(getenv func(string) string) (*session.Service, func(), error) {
	raw := strings.TrimSpace(getenv("REDIS_URL"))
	if raw == "" {
		return nil, nil, errors.New("REDIS_URL is not set: merchants and agents live in Redis (the demo's embedded store is gone when serve stops)")
	}
	rdb, err := newRedis(raw)
	if err != nil {
		return nil, nil, err
	}
	prefix := getenv("BATON_KEY_PREFIX")
	svc := session.New(session.Options{Redis: rdb, Prefix: prefix})
	return svc, func() { _ = rdb.Close() }, nil
}

func merchantCreate(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("merchant create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "the shop's name")
	var origins stringList
	fs.Var(&origins, "origin", "an origin allowed to embed the widget (repeatable)")
	if err := fs.Parse(args); err != nil {
		return usageError{"merchant create: " + err.Error()}
	}
	if strings.TrimSpace(*name) == "" {
		return usageError{"merchant create: --name is required"}
	}
	svc, done, err := adminService(getenv)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := svc.CreateMerchant(ctx, *name, origins, "")
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]string{
		"merchant_id": m.ID, "widget_key": m.WidgetKey, "identity_secret": m.IdentitySecret})
}

func agentCreate(ctx context.Context, args []string, getenv func(string) string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("agent create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	merchant := fs.String("merchant", "", "merchant id")
	email := fs.String("email", "", "sign-in email")
	name := fs.String("name", "", "name shown to visitors")
	admin := fs.Bool("admin", false, "may change the merchant's settings")
	if err := fs.Parse(args); err != nil {
		return usageError{"agent create: " + err.Error()}
	}
	if *merchant == "" || *email == "" || *name == "" {
		return usageError{"agent create: --merchant, --email and --name are required"}
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if password == "" {
		return errors.New("agent create: give the password on standard input, one line")
	}
	svc, done, err := adminService(getenv)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	a, err := svc.CreateAgent(ctx, *merchant, *email, *name, password, *admin)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(map[string]string{"agent_id": a.ID})
}

// merchantRotate gives a merchant a new identity secret and prints it; the
// old one verifies for the grace period.
func merchantRotate(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("merchant rotate-identity-secret", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	merchant := fs.String("merchant", "", "the merchant's id")
	grace := fs.Duration("grace", 24*time.Hour, "how long the old secret still verifies identities (0: not at all)")
	if err := fs.Parse(args); err != nil {
		return usageError{"merchant rotate-identity-secret: " + err.Error()}
	}
	if *merchant == "" {
		return usageError{"merchant rotate-identity-secret: --merchant is required"}
	}
	svc, done, err := adminService(getenv)
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := svc.RotateIdentitySecret(ctx, *merchant, *grace)
	if err != nil {
		return err
	}
	res := map[string]any{"merchant_id": m.ID, "identity_secret": m.IdentitySecret, "previous_valid_until": nil}
	if !m.PreviousSecretUntil.IsZero() {
		res["previous_valid_until"] = session.FormatTime(m.PreviousSecretUntil)
	}
	return json.NewEncoder(out).Encode(res)
}
