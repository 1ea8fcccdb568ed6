package agentconsole

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/session"
)

func (c *Console) merchant(g *gin.Context) (*session.Merchant, bool) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	m, err := c.team.Merchant(ctx, actorOf(g).MerchantID)
	if err != nil {
		c.fail(g, err)
		return nil, false
	}
	return m, true
}

func (c *Console) getSettings(g *gin.Context) {
	m, ok := c.merchant(g)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, m.Settings)
}

// settingsPatch is a PUT body: fields left out keep their value.
type settingsPatch struct {
	Handoff *struct {
		Method  *session.HandoffMethod `json:"method"`
		Message *string                `json:"message"`
	} `json:"handoff"`
	AutoResponse   *string   `json:"auto_response"`
	AwayMessage    *string   `json:"away_message"`
	AllowedOrigins *[]string `json:"allowed_origins"`
	Locale         *string   `json:"locale"`
}

func (c *Console) putSettings(g *gin.Context) {
	var p settingsPatch
	if !bind(g, &p) {
		return
	}
	m, ok := c.merchant(g)
	if !ok {
		return
	}
	s := m.Settings
	s.AllowedOrigins = append([]string{}, s.AllowedOrigins...)
	if p.Handoff != nil {
		if p.Handoff.Method != nil {
			s.Handoff.Method = *p.Handoff.Method
		}
		if p.Handoff.Message != nil {
			s.Handoff.Message = *p.Handoff.Message
		}
	}
	if p.AutoResponse != nil {
		s.AutoResponse = *p.AutoResponse
	}
	if p.AwayMessage != nil {
		s.AwayMessage = *p.AwayMessage
	}
	if p.AllowedOrigins != nil {
		s.AllowedOrigins = append([]string{}, (*p.AllowedOrigins)...)
	}
	if p.Locale != nil {
		s.Locale = *p.Locale
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out, err := c.team.UpdateSettings(ctx, m.ID, s)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, out)
}

// officeHoursJSON is the stored schedule plus what it means right now.
type officeHoursJSON struct {
	session.OfficeHours
	Now officeNow `json:"now"`
}

type officeNow struct {
	Open     bool         `json:"open"`
	NextOpen session.Time `json:"next_open"`
	// NextOpenLocal is "Monday 30 November at 09:00 (Europe/Amsterdam)" in
	// the merchant's locale, for previews.
	NextOpenLocal string `json:"next_open_local,omitempty"`
}

func (c *Console) officeJSON(m *session.Merchant, h session.OfficeHours) officeHoursJSON {
	st := c.team.Office(m)
	now := officeNow{Open: st.Open, NextOpen: session.Time{Time: st.NextOpen}}
	if !st.NextOpen.IsZero() {
		now.NextOpenLocal = session.FormatOpening(m.Settings.Locale, st.NextOpen, m.Schedule.Location())
	}
	return officeHoursJSON{OfficeHours: h, Now: now}
}

func (c *Console) getOfficeHours(g *gin.Context) {
	m, ok := c.merchant(g)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, c.officeJSON(m, m.Hours.Normalize()))
}

func (c *Console) putOfficeHours(g *gin.Context) {
	var h session.OfficeHours
	if !bind(g, &h) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	mid := actorOf(g).MerchantID
	out, err := c.team.SetOfficeHours(ctx, mid, h)
	if err != nil {
		c.fail(g, err)
		return
	}
	m, ok := c.merchant(g)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, c.officeJSON(m, *out))
}

func (c *Console) getKnowledge(g *gin.Context) {
	m, ok := c.merchant(g)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, gin.H{"entries": m.Knowledge.Entries, "version": m.Knowledge.Version})
}

func (c *Console) putKnowledge(g *gin.Context) {
	var in struct {
		Entries *[]session.KnowledgeEntry `json:"entries"`
	}
	if !bind(g, &in) {
		return
	}
	if in.Entries == nil {
		writeError(g, http.StatusBadRequest, "bad_request", `the body needs "entries": [...]`)
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out, err := c.team.SetKnowledge(ctx, actorOf(g).MerchantID, *in.Entries)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"entries": out})
}

func (c *Console) getMetrics(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	m, err := c.team.Metrics(ctx, actorOf(g).MerchantID, g.Query("from"), g.Query("to"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, m)
}

func (c *Console) listAgents(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	as, err := c.team.Agents(ctx, actorOf(g).MerchantID)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"agents": as})
}

func (c *Console) createAgent(g *gin.Context) {
	var in struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Password string `json:"password"`
		Role     string `json:"role"`
	}
	if !bind(g, &in) {
		return
	}
	if in.Role != "" && in.Role != session.RoleNameAgent && in.Role != session.RoleNameAdmin {
		writeError(g, http.StatusBadRequest, "invalid_role", "role must be agent or admin")
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	a, err := c.team.CreateAgent(ctx, actorOf(g).MerchantID, in.Email, in.Name, in.Password, in.Role == session.RoleNameAdmin)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusCreated, gin.H{"agent": agentJSON(a)})
}

// getMerchant shows what an admin needs to embed the widget and sign visitor
// identities.
func (c *Console) getMerchant(g *gin.Context) {
	m, ok := c.merchant(g)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, gin.H{
		"id": m.ID, "name": m.Name, "widget_key": m.WidgetKey, "identity_secret": m.IdentitySecret,
		"integrations": gin.H{"zendesk": m.Integrations.Zendesk != nil, "gorgias": m.Integrations.Gorgias != nil},
	})
}
