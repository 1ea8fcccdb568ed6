package agentconsole

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
)

// mailStore is what the routes for emails to visitors need.
type mailStore interface {
	FailedMails(ctx context.Context, merchantID string) ([]session.FailedMail, error)
	RetryMail(ctx context.Context, merchantID, convID string) error
}

func (c *Console) registerMail(admin gin.IRouter) {
	admin.GET("/emails", c.listMails)
	admin.POST("/emails/:id/retry", c.retryMail)
}

// listMails lists the emails to visitors that failed (state=failed, the
// only state kept).
func (c *Console) listMails(g *gin.Context) {
	if st := g.Query("state"); st != "" && st != "failed" {
		rest.Fail(g, http.StatusBadRequest, "invalid_state", "state must be failed")
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	ms, err := c.mail.FailedMails(ctx, actorOf(g).MerchantID)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"emails": ms})
}

func (c *Console) retryMail(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	if err := c.mail.RetryMail(ctx, actorOf(g).MerchantID, g.Param("id")); err != nil {
		c.fail(g, err)
		return
	}
	g.Status(http.StatusAccepted)
}
