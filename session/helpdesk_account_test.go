package session_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batonchat/baton/session"
)

// TestBrowserClient: "Connect with Zendesk" uses the client the admin
// named, else the operator's, else the merchant's saved one; the saved
// client's secret (SavedSecret, looked up at the callback) goes only to
// the address it was given for.
func TestBrowserClient(t *testing.T) {
	own := &session.HelpdeskAccount{Site: "shop", BaseURL: "https://zd.example", Auth: session.AuthClientCredentials,
		ClientID: "shop_client", Secret: "shop-secret"}
	public := &session.HelpdeskAccount{Site: "shop", Auth: session.AuthCode, ClientID: "shop_public"}
	token := &session.HelpdeskAccount{Site: "shop", BaseURL: "https://zd.example", Email: "a@shop.example", Secret: "api-token"}
	unreadable := *own
	unreadable.Secret, unreadable.Unreadable = "", true
	for _, tc := range []struct {
		name               string
		site, base, client string
		operator           string
		prev               *session.HelpdeskAccount
		wantClient         string
		wantSecret         string
	}{
		{name: "nothing to use", site: "shop"},
		{name: "the operator's", site: "shop", operator: "op", wantClient: "op"},
		{name: "the named one before the operator's", site: "shop", client: "mine", operator: "op", wantClient: "mine"},
		{name: "the operator's before the saved one", site: "shop", base: "https://zd.example", operator: "op", prev: own, wantClient: "op"},
		{name: "the saved one, with its secret", site: "shop", base: "https://zd.example", prev: own,
			wantClient: "shop_client", wantSecret: "shop-secret"},
		{name: "the saved one named, with its secret", site: " Shop ", base: "https://zd.example/", client: "shop_client",
			operator: "op", prev: own, wantClient: "shop_client", wantSecret: "shop-secret"},
		{name: "another subdomain: not the saved one", site: "other", base: "https://zd.example", prev: own},
		{name: "another base_url: not the saved one", site: "shop", base: "https://proxy.example", prev: own},
		{name: "the saved one named for another address: no secret", site: "shop", client: "shop_client", prev: own,
			wantClient: "shop_client"},
		{name: "another client named: no secret", site: "shop", base: "https://zd.example", client: "mine", prev: own,
			wantClient: "mine"},
		{name: "a saved public client", site: "shop", prev: public, wantClient: "shop_public"},
		{name: "an API token has no client", site: "shop", base: "https://zd.example", prev: token},
		{name: "a secret that cannot be read", site: "shop", base: "https://zd.example", prev: &unreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acc := session.HelpdeskAccount{Site: tc.site, BaseURL: tc.base, Auth: session.AuthCode, ClientID: tc.client}
			require.Equal(t, tc.wantClient != "", acc.BrowserClient(tc.operator, tc.prev))
			acc.SavedSecret(tc.prev)
			require.Equal(t, tc.wantClient, acc.ClientID)
			require.Equal(t, tc.wantSecret, acc.Secret)
		})
	}
}
