package session

import (
	"context"
	"math"
	"strconv"
	"time"
)

// Metric fields, per day in the merchant's zone.
const (
	metricConversations = "c" // conversations in which the visitor engaged
	metricRouted        = "r" // handed to a person or a helpdesk
	metricResolved      = "a" // ended without a handoff
)

func metricField(day, metric string) string { return day + "|" + metric }

// Model metrics, per day: calls, failed calls, tokens.
const (
	metricModelCalls      = "mc"
	metricModelErrors     = "me"
	metricPromptTokens    = "mpt"
	metricCompletionToken = "mct"
)

// countModel counts a model call and its tokens for the merchant, on
// today's date in the merchant's zone.
func (s *Service) countModel(ctx context.Context, m *Merchant, u ModelUsage, failed bool) {
	day := s.now().In(m.Schedule.Location()).Format(time.DateOnly)
	key := s.keys.metrics(m.ID)
	pipe := s.rdb.Pipeline()
	pipe.HIncrBy(ctx, key, metricField(day, metricModelCalls), 1)
	if failed {
		pipe.HIncrBy(ctx, key, metricField(day, metricModelErrors), 1)
	}
	if u.PromptTokens > 0 {
		pipe.HIncrBy(ctx, key, metricField(day, metricPromptTokens), int64(u.PromptTokens))
	}
	if u.CompletionTokens > 0 {
		pipe.HIncrBy(ctx, key, metricField(day, metricCompletionToken), int64(u.CompletionTokens))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "counting a model call", "merchant", m.ID, "err", err)
	}
}

// routedBy is the metric of conversations routed for one reason.
func routedBy(reason string) string { return metricRouted + ":" + reason }

// countRouted counts a conversation handed to the team, in all and by its
// reason, in one round trip.
func (s *Service) countRouted(ctx context.Context, merchantID, day, reason string) {
	if day == "" {
		return
	}
	if reason == "" {
		reason = ReasonUnsure
	}
	pipe := s.rdb.Pipeline()
	pipe.HIncrBy(ctx, s.keys.metrics(merchantID), metricField(day, metricRouted), 1)
	pipe.HIncrBy(ctx, s.keys.metrics(merchantID), metricField(day, routedBy(reason)), 1)
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "counting a handoff", "merchant", merchantID, "err", err)
	}
}

func (s *Service) count(ctx context.Context, merchantID, day, metric string) {
	if day == "" {
		return
	}
	if err := s.rdb.HIncrBy(ctx, s.keys.metrics(merchantID), metricField(day, metric), 1).Err(); err != nil {
		s.log.WarnContext(ctx, "counting a metric", "merchant", merchantID, "err", err)
	}
}

// DayMetrics are one day's figures.
type DayMetrics struct {
	Date                string  `json:"date"`
	Conversations       int64   `json:"conversations"`
	ResolvedByAssistant int64   `json:"resolved_by_assistant"`
	RoutedToTeam        int64   `json:"routed_to_team"`
	ResolutionRate      float64 `json:"resolution_rate"`
	// RoutedToTeamByReason splits RoutedToTeam by handoff reason.
	RoutedToTeamByReason map[string]int64 `json:"routed_to_team_by_reason"`
	CSAT                 CSAT             `json:"csat"`
}

// Metrics are a merchant's figures over a date range.
type Metrics struct {
	From                string `json:"from"`
	To                  string `json:"to"`
	Timezone            string `json:"timezone"`
	Conversations       int64  `json:"conversations"`
	ResolvedByAssistant int64  `json:"resolved_by_assistant"`
	RoutedToTeam        int64  `json:"routed_to_team"`
	// RoutedToTeamByReason: visitor_asked, unsure, model_handoff, model_error.
	RoutedToTeamByReason map[string]int64 `json:"routed_to_team_by_reason"`
	ResolutionRate       float64          `json:"resolution_rate"`
	RoutedRate           float64          `json:"routed_rate"`
	Open                 int64            `json:"open"`
	// Model counts the language model's work for the merchant.
	Model ModelMetrics `json:"model"`
	// CSAT is the visitors' ratings given in the range.
	CSAT CSAT         `json:"csat"`
	Days []DayMetrics `json:"days"`
}

// ModelMetrics are the model's calls and tokens over a range.
type ModelMetrics struct {
	Calls            int64 `json:"calls"`
	Errors           int64 `json:"errors"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// maxMetricDays bounds a metrics query.
const maxMetricDays = 366

// Metrics reports how the assistant did between two dates, inclusive, in
// the merchant's zone. Conversations count once the visitor engages (writes
// or asks for a person), on the day they started; resolution_rate is the
// share of them that ended without a handoff.
func (s *Service) Metrics(ctx context.Context, merchantID, from, to string) (*Metrics, error) {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	loc := m.Schedule.Location()
	days, from, to, err := s.dateRange(m, from, to)
	if err != nil {
		return nil, err
	}
	reasons := Reasons()
	model := []string{metricModelCalls, metricModelErrors, metricPromptTokens, metricCompletionToken,
		metricCSATCount, metricCSATSum}
	per := 3 + len(reasons) + len(model)
	fields := make([]string, 0, per*len(days))
	for _, d := range days {
		fields = append(fields, metricField(d, metricConversations), metricField(d, metricResolved), metricField(d, metricRouted))
		for _, r := range reasons {
			fields = append(fields, metricField(d, routedBy(r)))
		}
		for _, f := range model {
			fields = append(fields, metricField(d, f))
		}
	}
	vals, err := s.rdb.HMGet(ctx, s.keys.metrics(merchantID), fields...).Result()
	if err != nil {
		return nil, err
	}
	num := func(v any) int64 {
		sv, _ := v.(string)
		n, _ := strconv.ParseInt(sv, 10, 64)
		return n
	}
	out := &Metrics{From: from, To: to, Timezone: loc.String(), Days: make([]DayMetrics, len(days)),
		RoutedToTeamByReason: make(map[string]int64, len(reasons))}
	for _, r := range reasons {
		out.RoutedToTeamByReason[r] = 0
	}
	var csatSum int64
	for i, d := range days {
		v := vals[per*i:]
		dm := DayMetrics{Date: d, Conversations: num(v[0]), ResolvedByAssistant: num(v[1]), RoutedToTeam: num(v[2]),
			RoutedToTeamByReason: make(map[string]int64, len(reasons))}
		for j, r := range reasons {
			n := num(v[3+j])
			dm.RoutedToTeamByReason[r] = n
			out.RoutedToTeamByReason[r] += n
		}
		mv := v[3+len(reasons):]
		out.Model.Calls += num(mv[0])
		out.Model.Errors += num(mv[1])
		out.Model.PromptTokens += num(mv[2])
		out.Model.CompletionTokens += num(mv[3])
		dm.CSAT = csatOf(num(mv[4]), num(mv[5]))
		out.CSAT.Responses += num(mv[4])
		csatSum += num(mv[5])
		dm.ResolutionRate = ratio(dm.ResolvedByAssistant, dm.Conversations)
		out.Days[i] = dm
		out.Conversations += dm.Conversations
		out.ResolvedByAssistant += dm.ResolvedByAssistant
		out.RoutedToTeam += dm.RoutedToTeam
	}
	out.CSAT = csatOf(out.CSAT.Responses, csatSum)
	out.ResolutionRate = ratio(out.ResolvedByAssistant, out.Conversations)
	out.RoutedRate = ratio(out.RoutedToTeam, out.Conversations)
	out.Open = max(0, out.Conversations-out.ResolvedByAssistant-out.RoutedToTeam)
	return out, nil
}

// dateRange lists the dates from..to, inclusive, in the merchant's zone:
// the last 30 days when neither is given, to today when to is not.
func (s *Service) dateRange(m *Merchant, from, to string) (days []string, f, t string, err error) {
	loc := m.Schedule.Location()
	if to == "" {
		to = s.now().In(loc).Format(time.DateOnly)
	}
	if from == "" {
		t, _ := time.ParseInLocation(time.DateOnly, to, loc)
		from = t.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	first, err1 := time.ParseInLocation(time.DateOnly, from, loc)
	last, err2 := time.ParseInLocation(time.DateOnly, to, loc)
	if err1 != nil || err2 != nil {
		return nil, "", "", newErr(KindInvalid, "invalid_date", "from and to must be YYYY-MM-DD dates")
	}
	if last.Before(first) {
		return nil, "", "", newErr(KindInvalid, "invalid_date", "to is before from")
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
		if len(days) > maxMetricDays {
			return nil, "", "", newErr(KindInvalid, "invalid_date", "at most %d days at a time", maxMetricDays)
		}
	}
	return days, from, to, nil
}

func csatOf(n, sum int64) CSAT {
	if n == 0 {
		return CSAT{}
	}
	return CSAT{Responses: n, Average: math.Round(float64(sum)/float64(n)*100) / 100}
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*10000) / 10000
}
