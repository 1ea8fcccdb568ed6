package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHelpdeskAddressConfig: BATON_HELPDESK_BASE_URLS, the operator's
// Zendesk OAuth client and BATON_PUBLIC_URL are read, and nonsense is
// refused at start rather than at the first connection.
func TestHelpdeskAddressConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want func(*testing.T, config)
		err  string
	}{
		{env: map[string]string{}, want: func(t *testing.T, c config) {
			require.Empty(t, c.HelpdeskBaseURLs)
			require.Empty(t, c.ZendeskClientID)
			require.Empty(t, c.PublicURL)
		}},
		{env: map[string]string{"BATON_HELPDESK_BASE_URLS": " https://proxy.example/zd , http://127.0.0.1 ,"}, want: func(t *testing.T, c config) {
			require.Equal(t, []string{"https://proxy.example/zd", "http://127.0.0.1"}, c.HelpdeskBaseURLs)
		}},
		{env: map[string]string{"BATON_HELPDESK_BASE_URLS": "proxy.example"}, err: "BATON_HELPDESK_BASE_URLS"},
		{env: map[string]string{"BATON_HELPDESK_BASE_URLS": "https://user:pw@proxy.example"}, err: "BATON_HELPDESK_BASE_URLS"},
		{env: map[string]string{"BATON_ZENDESK_CLIENT_ID": "baton", "BATON_ZENDESK_CLIENT_SECRET": "s3cret", "BATON_PUBLIC_URL": "https://chat.example.com/"},
			want: func(t *testing.T, c config) {
				require.Equal(t, "baton", c.ZendeskClientID)
				require.Equal(t, "s3cret", c.ZendeskClientSecret)
				require.Equal(t, "https://chat.example.com", c.PublicURL)
			}},
		{env: map[string]string{"BATON_ZENDESK_CLIENT_SECRET": "s3cret"}, err: "BATON_ZENDESK_CLIENT_ID"},
		{env: map[string]string{"BATON_PUBLIC_URL": "https://chat.example.com/baton"}, err: "BATON_PUBLIC_URL"},
		{env: map[string]string{"BATON_PUBLIC_URL": "chat.example.com"}, err: "BATON_PUBLIC_URL"},
	} {
		cfg, err := loadConfig(func(k string) string { return tc.env[k] })
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%v", tc.env)
			continue
		}
		require.NoError(t, err, "%v", tc.env)
		tc.want(t, cfg)
	}
}
