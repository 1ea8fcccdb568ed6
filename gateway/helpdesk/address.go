package helpdesk

import (
	"strings"

	"github.com/batonchat/baton/session"
)

// Where Baton may send a merchant's credentials: a base_url is honoured
// only within the prefixes the operator allows (BATON_HELPDESK_BASE_URLS);
// without one Baton calls only https://SUBDOMAIN.zendesk.com or
// https://DOMAIN.gorgias.com, the subdomain being a DNS label
// (session.HelpdeskAccount.Validate). Every connection goes through the
// egress policy's dialer (see package egress).

// baseFor is where an account's API lives: its base_url when the operator
// allows it, else the site under the helpdesk's domain. Nothing is sent
// anywhere else.
func (c *Client) baseFor(acc session.HelpdeskAccount, domain string) (string, error) {
	if acc.BaseURL == "" {
		if acc.Site == "" || strings.ContainsAny(acc.Site, "./:@[]%") {
			return "", &session.Error{Kind: session.KindInvalid, Code: "invalid_integration", Message: "the site must be the account's name, like \"myshop\""}
		}
		return "https://" + acc.Site + domain, nil
	}
	if !c.addr.Allows(acc.BaseURL) {
		return "", &session.Error{Kind: session.KindRefused, Code: "base_url_not_allowed",
			Message: "base_url " + acc.BaseURL + " is not among the addresses this Baton allows (BATON_HELPDESK_BASE_URLS); leave it empty to use the helpdesk's own address"}
	}
	return strings.TrimRight(acc.BaseURL, "/"), nil
}

// CheckAddress refuses an account whose base_url the operator does not
// allow, before anything is sent to it.
func (c *Client) CheckAddress(method session.HandoffMethod, acc session.HelpdeskAccount) error {
	_, err := c.baseFor(acc, domainOf(method))
	return err
}

func domainOf(method session.HandoffMethod) string {
	if method == session.MethodGorgias {
		return ".gorgias.com"
	}
	return ".zendesk.com"
}
