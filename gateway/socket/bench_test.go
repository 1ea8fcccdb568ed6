package socket

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkRelay sends chat-sized frames round-robin to sockets whose
// clients read everything, as the Hub fans a conversation out, with at most
// 64 frames per socket in flight (so the queue never overflows): it times
// Send, the writer, the kernel and the clients' reads.
func BenchmarkRelay(b *testing.B) {
	for _, sockets := range []int{1, 100} {
		for _, size := range []int{200, 4000} {
			b.Run("sockets="+strconv.Itoa(sockets)+"/size="+strconv.Itoa(size), func(b *testing.B) {
				benchRelay(b, sockets, size)
			})
		}
	}
}

func benchRelay(b *testing.B, sockets, size int) {
	conns := make(chan *Conn, sockets)
	_, url := serve(b, Options{MaxQueueBytes: 64 << 20}, func(c *Conn) { conns <- c })
	var got sync.WaitGroup
	window := make(chan struct{}, 64*sockets)
	per := make([]int, sockets)
	for i := range per {
		per[i] = b.N / sockets
		if i < b.N%sockets {
			per[i]++
		}
	}
	servers := make([]*Conn, sockets)
	for i := range servers {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ws.Close()
		servers[i] = <-conns
		got.Add(1)
		go func(want int) {
			defer got.Done()
			for n := 0; n < want; n++ {
				if _, _, err := ws.ReadMessage(); err != nil {
					b.Error(err)
					return
				}
				<-window
			}
		}(per[i])
	}
	frame := []byte(strings.Repeat("m", size))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		window <- struct{}{}
		if !servers[i%sockets].Send(frame) {
			b.Fatal("refused")
		}
	}
	got.Wait()
}
