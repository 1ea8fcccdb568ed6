package session

import (
	"context"
	_ "embed"
	"strings"
	"time"
	"unicode/utf8"
)

// Satisfaction: when an inbox conversation a person took part in ends, the
// visitor is asked to rate it, 1 to 5, once, with an optional comment.

//go:embed scripts/rate.lua
var rateSource string

type rateArgs struct {
	Meta     string `lua:"meta,key"`
	Merchant string `lua:"merchant"`
	Now      int64  `lua:"now"`
	Score    int64  `lua:"score"`
	Comment  string `lua:"comment"`
}

type rateReply struct {
	Code string `lua:"code"` // ok, nf, not_asked, already
}

// maxCSATComment bounds a rating's comment (characters).
const maxCSATComment = 1000

// Metric fields of ratings, per day of rating in the merchant's zone.
const (
	metricCSATCount = "csn"
	metricCSATSum   = "css"
)

// CSAT is how visitors rated the conversations people took part in.
type CSAT struct {
	Responses int64   `json:"responses"`
	Average   float64 `json:"average"` // 0 with no responses
}

// Rate records the visitor's rating of their ended conversation.
func (s *Service) Rate(ctx context.Context, t Turn, score int, comment string) error {
	if score < 1 || score > 5 {
		return newErr(KindInvalid, "invalid_score", "score must be a whole number from 1 to 5")
	}
	comment = strings.TrimSpace(comment)
	if n := utf8.RuneCountInString(comment); n > maxCSATComment {
		return newErr(KindTooLarge, "comment_too_long", "the comment is %d characters; at most %d", n, maxCSATComment)
	}
	m, err := s.Merchant(ctx, t.MerchantID)
	if err != nil {
		return err
	}
	now := s.now()
	r, err := s.rateScript.run(ctx, s.rdb, &rateArgs{Meta: s.keys.convMeta(t.ConversationID), Merchant: t.MerchantID,
		Now: now.UnixMilli(), Score: int64(score), Comment: comment})
	if err != nil {
		return err
	}
	switch r.Code {
	case "nf":
		return ErrNotFound
	case "not_asked":
		return newErr(KindConflict, "not_rateable", "this conversation does not ask for a rating")
	case "already":
		return newErr(KindConflict, "already_rated", "this conversation was rated already")
	}
	day := now.In(m.Schedule.Location()).Format(time.DateOnly)
	pipe := s.rdb.Pipeline()
	pipe.HIncrBy(ctx, s.keys.metrics(t.MerchantID), metricField(day, metricCSATCount), 1)
	pipe.HIncrBy(ctx, s.keys.metrics(t.MerchantID), metricField(day, metricCSATSum), int64(score))
	// The rating's webhook rides on the same round trip.
	s.writeHooks(ctx, pipe, m, hookEvent{merchant: m.ID, typ: HookCSAT, data: map[string]any{
		"conversation_id": t.ConversationID, "score": score, "comment": comment, "at": Time{Time: now}}})
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "counting a rating", "merchant", t.MerchantID, "err", err)
	}
	return nil
}
