package session

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// relevant picks the merchant's k entries most relevant to text, best
// first, for the model to answer from. With embeddings, the nearest entries
// by meaning come first and the built-in retriever's fill the rest; the
// entries' vectors are made once per knowledge version (in the background:
// until they are ready, the built-in retriever alone picks).
func (s *Service) relevant(ctx context.Context, m *Merchant, text string, k int) ([]KnowledgeEntry, error) {
	ks := m.Knowledge
	if ks == nil || len(ks.Entries) == 0 {
		return nil, nil
	}
	var lexical []KnowledgeEntry
	if r, ok := s.assistant.(Retriever); ok {
		lexical = r.Retrieve(ks, text, k)
	} else {
		lexical = ks.Entries[:min(k, len(ks.Entries))]
	}
	if s.gen == nil || s.gen.opts.Embedder == nil {
		return lexical, nil
	}
	vecs := s.gen.vectors.get(s, ks)
	if vecs == nil {
		return lexical, nil
	}
	start := time.Now()
	q, _, err := s.gen.opts.Embedder.Embed(ctx, []string{text})
	s.obs.ModelCall("embed", time.Since(start), err)
	if err != nil || len(q) != 1 {
		s.log.WarnContext(ctx, "embedding a question; the built-in retriever picks alone", "merchant", m.ID, "err", err)
		return lexical, nil
	}
	type scored struct {
		i     int
		score float64
	}
	var all []scored
	for i, e := range ks.Entries {
		if v, ok := vecs[e.ID]; ok {
			all = append(all, scored{i, cosine(q[0], v)})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
	out := make([]KnowledgeEntry, 0, k)
	seen := map[string]bool{}
	add := func(e KnowledgeEntry) {
		if len(out) < k && !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	// By meaning first, up to three quarters; then the words' best.
	for _, sc := range all[:min(len(all), k*3/4)] {
		add(ks.Entries[sc.i])
	}
	for _, e := range lexical {
		add(e)
	}
	for _, sc := range all {
		add(ks.Entries[sc.i])
	}
	return out, nil
}

func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// entryText is what an entry's vector is made from.
func entryText(e KnowledgeEntry) string {
	t := e.Question + "\n" + strings.Join(e.Phrasings, "\n") + "\n" + e.Answer
	t, _ = Clip(t, 4000)
	return t
}

// vectorCache holds entries' vectors per merchant and knowledge version, in
// memory and in Redis (so each version is embedded once, not once per
// node).
type vectorCache struct {
	mu      sync.Mutex
	byMer   map[string]*vectorSet
	pending map[string]bool // merchant|version being made
}

type vectorSet struct {
	version int64
	vecs    map[string][]float32
}

// embedBatch is how many entries go in one embeddings call.
const embedBatch = 64

// vectorTTL keeps a version's vectors in Redis while it is in use.
const vectorTTL = 30 * 24 * time.Hour

// get returns the vectors of ks's version, or nil while they are being
// made.
func (c *vectorCache) get(s *Service, ks *KnowledgeSet) map[string][]float32 {
	c.mu.Lock()
	if c.byMer == nil {
		c.byMer, c.pending = map[string]*vectorSet{}, map[string]bool{}
	}
	if v := c.byMer[ks.MerchantID]; v != nil && v.version == ks.Version {
		c.mu.Unlock()
		return v.vecs
	}
	key := ks.MerchantID + "|" + itoa(ks.Version)
	if c.pending[key] {
		c.mu.Unlock()
		return nil
	}
	c.pending[key] = true
	c.mu.Unlock()
	s.gen.wg.Add(1)
	go func() {
		defer s.gen.wg.Done()
		ctx, cancel := context.WithTimeout(s.runCtx(), 5*time.Minute)
		defer cancel()
		vecs, err := c.load(ctx, s, ks)
		c.mu.Lock()
		delete(c.pending, key)
		if err == nil {
			c.byMer[ks.MerchantID] = &vectorSet{version: ks.Version, vecs: vecs}
		}
		c.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "embedding the knowledge; the built-in retriever picks meanwhile", "merchant", ks.MerchantID, "err", err)
		}
	}()
	return nil
}

// load reads a version's vectors from Redis and makes the missing ones.
func (c *vectorCache) load(ctx context.Context, s *Service, ks *KnowledgeSet) (map[string][]float32, error) {
	key := s.keys.vectors(ks.MerchantID, ks.Version)
	stored, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	vecs := make(map[string][]float32, len(ks.Entries))
	var missing []KnowledgeEntry
	for _, e := range ks.Entries {
		if v, ok := decodeVector(stored[e.ID]); ok {
			vecs[e.ID] = v
		} else {
			missing = append(missing, e)
		}
	}
	for start := 0; start < len(missing); start += embedBatch {
		batch := missing[start:min(start+embedBatch, len(missing))]
		texts := make([]string, len(batch))
		for i, e := range batch {
			texts[i] = entryText(e)
		}
		start := time.Now()
		out, _, err := s.gen.opts.Embedder.Embed(ctx, texts)
		s.obs.ModelCall("embed", time.Since(start), err)
		if err != nil {
			return nil, err
		}
		if len(out) != len(batch) {
			return nil, &ModelError{Kind: ModelRejected, Message: "the embeddings answer has the wrong number of vectors"}
		}
		fields := make([]any, 0, 2*len(batch))
		for i, e := range batch {
			vecs[e.ID] = out[i]
			fields = append(fields, e.ID, encodeVector(out[i]))
		}
		pipe := s.rdb.Pipeline()
		pipe.HSet(ctx, key, fields...)
		pipe.PExpire(ctx, key, vectorTTL)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	if len(missing) == 0 {
		_ = s.rdb.PExpire(ctx, key, vectorTTL).Err()
	}
	return vecs, nil
}

func encodeVector(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

func decodeVector(s string) ([]float32, bool) {
	if s == "" {
		return nil, false
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		return nil, false
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, true
}
