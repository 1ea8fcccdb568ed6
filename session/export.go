package session

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// A day's index of new conversations outlives every conversation of that
// day: one written to until the end of its live time and then kept for
// the records.
const dayIndexTTL = liveTTL + closedTTL + 24*time.Hour

// exportDay names the UTC day a conversation began on, in its index's key.
func exportDay(t time.Time) string { return t.UTC().Format("20060102") }

const (
	// MaxExportRange bounds one bulk export: no conversation is kept
	// longer than this anyway.
	MaxExportRange = 366 * 24 * time.Hour
	// exportPage is how many ids one read of a day's index takes;
	// exportEntries how many transcript entries one round trip reads, so
	// an export holds about that many entries in memory whatever its size.
	exportPage    = 200
	exportEntries = 2000
)

// ExportRange calls each, oldest first, for every conversation of the
// merchant that began in [from, to), with its whole transcript. It reads
// in pages, so its memory does not grow with the range; each may write
// the conversation out and must not keep the slices. An error from each
// stops the export and is returned.
func (s *Service) ExportRange(ctx context.Context, merchantID string, from, to time.Time,
	each func(*Conversation, []RawEntry) error) error {
	if !to.After(from) {
		return newErr(KindInvalid, "invalid_range", "to must be after from")
	}
	if to.Sub(from) > MaxExportRange {
		return newErr(KindInvalid, "invalid_range", "a range is at most 366 days; export it in parts")
	}
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		lo, hi := max(from.UnixMilli(), day.UnixMilli()), min(to.UnixMilli(), day.Add(24*time.Hour).UnixMilli())
		key := s.keys.startedOn(merchantID, exportDay(day))
		for offset := int64(0); ; offset += exportPage {
			ids, err := s.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: itoa(lo), Max: "(" + itoa(hi),
				Offset: offset, Count: exportPage}).Result()
			if err != nil {
				return err
			}
			if err := s.exportPage(ctx, merchantID, ids, each); err != nil {
				return err
			}
			if len(ids) < exportPage {
				break
			}
		}
	}
	return nil
}

// exportPage reads the conversations of one page of ids: their fields in
// one round trip, then their transcripts in batches of about
// exportEntries entries.
func (s *Service) exportPage(ctx context.Context, merchantID string, ids []string,
	each func(*Conversation, []RawEntry) error) error {
	if len(ids) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	metas := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		metas[i] = pipe.HGetAll(ctx, s.keys.convMeta(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	convs := make([]*Conversation, 0, len(ids))
	for i, id := range ids {
		// The index is a superset: a step that was refused, or a
		// conversation already gone, leaves an id behind.
		if c, ok := conversationFromMeta(id, metas[i].Val()); ok && c.MerchantID == merchantID {
			convs = append(convs, c)
		}
	}
	for len(convs) > 0 {
		n, entries := 0, int64(0)
		for n < len(convs) && (n == 0 || entries+convs[n].LastSeq <= exportEntries) {
			entries += convs[n].LastSeq
			n++
		}
		pipe := s.rdb.Pipeline()
		logs := make([]*redis.StringSliceCmd, n)
		for i, c := range convs[:n] {
			logs[i] = pipe.LRange(ctx, s.keys.convLog(c.ID), 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i, c := range convs[:n] {
			if err := each(c, rawEntries(0, logs[i].Val())); err != nil {
				return err
			}
			logs[i] = nil
		}
		convs = convs[n:]
	}
	return nil
}
