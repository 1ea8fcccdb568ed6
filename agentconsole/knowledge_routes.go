package agentconsole

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/batonchat/baton/gateway/rest"
	"github.com/batonchat/baton/session"
)

// knowledgeStore is what the knowledge routes need.
type knowledgeStore interface {
	Merchant(ctx context.Context, id string) (*session.Merchant, error)
	SetKnowledge(ctx context.Context, merchantID string, entries []session.KnowledgeEntry) ([]session.KnowledgeEntry, error)
	KnowledgeGaps(ctx context.Context, merchantID, from, to string) ([]session.GapGroup, error)
}

func (c *Console) registerKnowledge(admin gin.IRouter) {
	admin.GET("/knowledge", c.getKnowledge)
	admin.PUT("/knowledge", c.putKnowledge)
	admin.GET("/knowledge/gaps", c.getGaps)
}

// getGaps lists what visitors asked that the knowledge could not answer,
// grouped by similarity.
func (c *Console) getGaps(g *gin.Context) {
	ctx, cancel := ctxOf(g)
	defer cancel()
	groups, err := c.knowledge.KnowledgeGaps(ctx, actorOf(g).MerchantID, g.Query("from"), g.Query("to"))
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"gaps": groups})
}

func (c *Console) getKnowledge(g *gin.Context) {
	m, ok := c.merchantFrom(g, c.knowledge)
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
		rest.Fail(g, http.StatusBadRequest, "bad_request", `the body needs "entries": [...]`)
		return
	}
	ctx, cancel := ctxOf(g)
	defer cancel()
	out, err := c.knowledge.SetKnowledge(ctx, actorOf(g).MerchantID, *in.Entries)
	if err != nil {
		c.fail(g, err)
		return
	}
	g.JSON(http.StatusOK, gin.H{"entries": out})
}
