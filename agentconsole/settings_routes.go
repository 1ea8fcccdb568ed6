package agentconsole

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/session"
)

// settingsStore is what the admin's settings routes (handoff method,
// messages, origins, office hours, the widget's keys) need.
type settingsStore interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	UpdateSettings(ctx context.Context, merchantID string, version int64, edit func(*session.Settings)) (*session.Settings, error)
	SetOfficeHours(ctx context.Context, merchantID string, h session.OfficeHours) (*session.OfficeHours, error)
	Office(m *session.Merchant) session.OfficeState
	RotateIdentitySecret(ctx context.Context, merchantID string, grace time.Duration) (*session.Merchant, error)
}

func (c *Console) registerSettings(admin gin.IRouter) {
	admin.GET("/settings", c.getSettings)
	admin.PUT("/settings", c.putSettings)
	admin.GET("/office-hours", c.getOfficeHours)
	admin.PUT("/office-hours", c.putOfficeHours)
	admin.GET("/merchant", c.getMerchant)
	admin.POST("/identity-secret/rotate", c.rotateSecret)
}

// rotateSecret gives the merchant a new identity secret; the old one still
// verifies for grace_s seconds (default a day).
func (c *Console) rotateSecret(g *gin.Context) {
	in := struct {
		GraceS *int64 `json:"grace_s"`
	}{}
	if !bind(g, &in) {
		return
	}
	grace := 24 * time.Hour
	if in.GraceS != nil {
		grace = time.Duration(*in.GraceS) * time.Second
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	m, err := c.settings.RotateIdentitySecret(ctx, actorOf(g).MerchantID, grace)
	if err != nil {
		c.fail(g, err)
		return
	}
	var until any
	if !m.PreviousSecretUntil.IsZero() {
		until = session.Time{Time: m.PreviousSecretUntil}
	}
	g.JSON(http.StatusOK, gin.H{"identity_secret": m.IdentitySecret, "previous_valid_until": until})
}

// merchantFrom loads the caller's merchant, answering the request itself
// when it cannot.
func (c *Console) merchantFrom(g *gin.Context, src interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
}) (*session.Merchant, bool) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	m, err := src.Merchant(ctx, actorOf(g).MerchantID)
	if err != nil {
		c.fail(g, err)
		return nil, false
	}
	return m, true
}

func (c *Console) getSettings(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.settings)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, m.Settings)
}

// settingsPatch is a PUT body: fields left out keep their value. With
// version, the write must build on that version of the settings (409
// otherwise); without, it changes just the fields it names.
type settingsPatch struct {
	Handoff *struct {
		Method  *session.HandoffMethod `json:"method"`
		Message *string                `json:"message"`
	} `json:"handoff"`
	AutoResponse   *string   `json:"auto_response"`
	AwayMessage    *string   `json:"away_message"`
	AllowedOrigins *[]string `json:"allowed_origins"`
	Locale         *string   `json:"locale"`
	Version        int64     `json:"version"`
}

func (p *settingsPatch) apply(s *session.Settings) {
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
}

func (c *Console) putSettings(g *gin.Context) {
	var p settingsPatch
	if !bind(g, &p) {
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out, err := c.settings.UpdateSettings(ctx, actorOf(g).MerchantID, p.Version, p.apply)
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
	st := c.settings.Office(m)
	now := officeNow{Open: st.Open, NextOpen: session.Time{Time: st.NextOpen}}
	if !st.NextOpen.IsZero() {
		now.NextOpenLocal = session.FormatOpening(m.Settings.Locale, st.NextOpen, m.Schedule.Location())
	}
	return officeHoursJSON{OfficeHours: h, Now: now}
}

func (c *Console) getOfficeHours(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.settings)
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
	out, err := c.settings.SetOfficeHours(ctx, mid, h)
	if err != nil {
		c.fail(g, err)
		return
	}
	m, ok := c.merchantFrom(g, c.settings)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, c.officeJSON(m, *out))
}

// getMerchant shows what an admin needs to embed the widget and sign visitor
// identities.
func (c *Console) getMerchant(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.settings)
	if !ok {
		return
	}
	g.JSON(http.StatusOK, gin.H{
		"id": m.ID, "name": m.Name, "widget_key": m.WidgetKey, "identity_secret": m.IdentitySecret,
		"integrations": gin.H{"zendesk": m.Integrations.Zendesk != nil, "gorgias": m.Integrations.Gorgias != nil},
	})
}
